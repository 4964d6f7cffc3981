// Test harness for the request parser: raw bytes in, a normalised list of steps out.
//
// Strategy: every input is fed (a) whole, (b) split into two feeds at every offset, and (c) one
// byte at a time, and all three must give the same steps; a parser that depends on where TCP
// happened to cut the stream disagrees with itself, which is how request smuggling starts.
// Body data is normalised (consecutive data events concatenated to one latin-1 string) because
// the parser may cut it anywhere. Each feed is also checked for the API's invariants: an error is
// the last event, nothing comes after it, `dead` is set, and data views stay valid afterwards.

import { RequestParser } from "../../src/http/parser.ts";
import type { ParserLimits, RequestHead } from "../../src/http/parser.ts";
import { ProtocolError } from "../../src/http/errors.ts";

/** A string of chars 0x00-0xFF as the bytes it spells (tests write raw bytes as JS escapes). */
export function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new Error(`test bug: char U+${c.toString(16)} is not one byte`);
    out[i] = c;
  }
  return out;
}

/** Bytes as a latin-1 string (one char per byte), the way the parser reports names and values. */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export type Step =
  | { type: "head"; head: RequestHead }
  | { type: "data"; data: string }
  | { type: "end"; trailers: string[] }
  | { type: "error"; status: number; message: string };

export interface FeedResult {
  steps: Step[];
  dead: boolean;
}

/** Feeds the chunks into one fresh parser and normalises what comes out. */
export function feedChunks(chunks: Uint8Array[], limits?: Partial<ParserLimits>): FeedResult {
  const parser = limits === undefined ? new RequestParser() : new RequestParser(limits);
  const steps: Step[] = [];
  // Views handed out earlier must still hold the same bytes at the end (the caller may keep them).
  const kept: { view: Uint8Array; copy: string }[] = [];
  let errored = false;
  for (const chunk of chunks) {
    const events = parser.feed(chunk);
    if (!Array.isArray(events)) throw new Error("feed() did not return an array");
    if (errored && events.length > 0) {
      throw new Error(`feed() returned ${events.length} event(s) after an error: ${JSON.stringify(events.map((e) => e.type))}`);
    }
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      if (errored) throw new Error("an event followed an error event in the same feed()");
      switch (ev.type) {
        case "head":
          steps.push({ type: "head", head: ev.head });
          break;
        case "data": {
          if (!(ev.data instanceof Uint8Array)) throw new Error("data event without a Uint8Array");
          const s = latin1(ev.data);
          kept.push({ view: ev.data, copy: s });
          const last = steps[steps.length - 1];
          if (last !== undefined && last.type === "data") last.data += s;
          else if (s.length > 0) steps.push({ type: "data", data: s });
          break;
        }
        case "end":
          if (!Array.isArray(ev.trailers)) throw new Error("end event without a trailers array");
          steps.push({ type: "end", trailers: ev.trailers });
          break;
        case "error":
          if (!(ev.error instanceof ProtocolError)) throw new Error("error event without a ProtocolError");
          if (!(ev.error.status >= 400 && ev.error.status <= 599)) throw new Error(`error status ${ev.error.status} is not 4xx/5xx`);
          steps.push({ type: "error", status: ev.error.status, message: ev.error.message });
          errored = true;
          break;
        default:
          throw new Error(`unknown event ${JSON.stringify(ev)}`);
      }
    }
    if (errored && !parser.dead) throw new Error("parser.dead is false after an error event");
  }
  if (errored) {
    // Dead forever: it never resynchronises, not even on a fresh valid request.
    const again = parser.feed(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
    if (again.length !== 0) throw new Error("a dead parser returned events for a valid request");
    if (!parser.dead) throw new Error("parser.dead went back to false");
  } else if (parser.dead) {
    throw new Error("parser.dead is true but no error event was returned");
  }
  for (const k of kept) {
    if (latin1(k.view) !== k.copy) throw new Error("a data view handed out earlier was overwritten by a later feed()");
  }
  return { steps, dead: errored };
}

function describeSplit(chunks: Uint8Array[]): string {
  return chunks.length === 2 ? `split at offset ${chunks[0].length}` : `${chunks.length} pieces`;
}

function same(a: FeedResult, b: FeedResult): boolean {
  return Bun.deepEquals(a, b, true);
}

/**
 * Parses `raw` whole, split in two at every offset, and one byte at a time; throws unless every way
 * gives the same steps. Returns the steps. O(n^2) in the input: keep table inputs small, or pass
 * `offsets` to try only that many evenly spaced split points.
 */
export function parseEverySplit(raw: Uint8Array | string, limits?: Partial<ParserLimits>, offsets?: number): FeedResult {
  const input = typeof raw === "string" ? bytes(raw) : raw;
  const whole = feedChunks([input], limits);
  const check = (chunks: Uint8Array[]): void => {
    const got = feedChunks(chunks, limits);
    if (!same(whole, got)) {
      throw new Error(
        `fed ${describeSplit(chunks)} the parser disagrees with feeding it whole\n` +
          `whole: ${JSON.stringify(whole)}\n` +
          `split: ${JSON.stringify(got)}`,
      );
    }
  };
  // `offsets` samples that many evenly spaced split points instead of all (for inputs of kilobytes).
  const step = offsets === undefined ? 1 : Math.max(1, Math.floor(input.length / offsets));
  for (let i = 1; i < input.length; i += step) check([input.slice(0, i), input.slice(i)]);
  const ones: Uint8Array[] = [new Uint8Array(0)];
  for (let i = 0; i < input.length; i++) ones.push(input.slice(i, i + 1));
  if (input.length > 1) check(ones);
  return whole;
}

export interface Message {
  head: RequestHead;
  body: string;
  /** null while the message has not ended. */
  trailers: string[] | null;
}

export interface Outcome {
  messages: Message[];
  error: { status: number; message: string } | null;
}

/** Groups steps into messages; checks the order head (data) end [head ...] [error]. */
export function outcome(steps: Step[]): Outcome {
  const messages: Message[] = [];
  let error: Outcome["error"] = null;
  let current: Message | null = null;
  for (const s of steps) {
    if (s.type === "head") {
      if (current !== null) throw new Error("a head arrived before the previous message ended");
      current = { head: s.head, body: "", trailers: null };
      messages.push(current);
    } else if (s.type === "data") {
      if (current === null) throw new Error("data arrived outside a message");
      current.body += s.data;
    } else if (s.type === "end") {
      if (current === null) throw new Error("end arrived outside a message");
      current.trailers = s.trailers;
      current = null;
    } else {
      error = { status: s.status, message: s.message };
    }
  }
  return { messages, error };
}

/** parseEverySplit then outcome. */
export function parse(raw: Uint8Array | string, limits?: Partial<ParserLimits>, offsets?: number): Outcome {
  return outcome(parseEverySplit(raw, limits, offsets).steps);
}
