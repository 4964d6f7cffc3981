// Table-driven parser tests: each row is [behaviour, raw bytes, expectation].
//
// Strategy: a row's raw bytes are written in the table as a JS string of latin-1 escapes so the
// reader sees exactly what goes on the wire; registerRows() turns each row into one bun test that
// parses the bytes whole, split at every offset and byte by byte (harness.ts) and then checks the
// expectation: a complete message (head fields, body, trailers), a protocol error with a status,
// or "still waiting" (a valid prefix: no error, no message end).

import { expect, test } from "bun:test";
import type { ParserLimits, RequestHead } from "../../src/http/parser.ts";
import { parse } from "./harness.ts";
import type { Outcome } from "./harness.ts";

/** Head fields to check; an authority is written as the plain string it should be. */
export type HeadExpectation = Omit<Partial<RequestHead>, "authority"> & { authority?: string | null };

export interface Accepts {
  kind: "accepts";
  messages: { head: HeadExpectation; body: string; trailers: string[] }[];
  /** What must follow the messages: nothing pending, or an error with one of these statuses. */
  thenStatus: number[] | null;
}
export interface Rejects {
  kind: "rejects";
  statuses: number[];
}
export interface Waits {
  kind: "waits";
  head: HeadExpectation | null;
}
export type Expectation = Accepts | Rejects | Waits;

export type Row = [behaviour: string, raw: string, expected: Expectation];

/** Exactly one complete message, nothing after it. */
export function accepts(head: HeadExpectation = {}, body = "", trailers: string[] = []): Accepts {
  return { kind: "accepts", messages: [{ head, body, trailers }], thenStatus: null };
}

/** Several complete messages in order (pipelining), nothing after them. */
export function acceptsAll(...messages: { head?: HeadExpectation; body?: string; trailers?: string[] }[]): Accepts {
  return {
    kind: "accepts",
    messages: messages.map((m) => ({ head: m.head ?? {}, body: m.body ?? "", trailers: m.trailers ?? [] })),
    thenStatus: null,
  };
}

/** The given messages complete, then the next request is refused with one of the statuses. */
export function acceptsThenRejects(status: number | number[], ...messages: { head?: HeadExpectation; body?: string }[]): Accepts {
  return {
    kind: "accepts",
    messages: messages.map((m) => ({ head: m.head ?? {}, body: m.body ?? "", trailers: [] })),
    thenStatus: typeof status === "number" ? [status] : status,
  };
}

/** A protocol error with this status (or any of these), and no message completed before it. */
export function rejects(status: number | number[]): Rejects {
  return { kind: "rejects", statuses: typeof status === "number" ? [status] : status };
}

/** A valid prefix: no error and no end of message yet (optionally the head already out). */
export function waits(head: HeadExpectation | null = null): Waits {
  return { kind: "waits", head };
}

export function check(o: Outcome, expected: Expectation): void {
  switch (expected.kind) {
    case "accepts": {
      const done = o.messages.filter((m) => m.trailers !== null);
      expect(done.length).toBe(expected.messages.length);
      expected.messages.forEach((m, i) => {
        expect(done[i].head).toMatchObject(m.head);
        expect(done[i].body).toBe(m.body);
        expect(done[i].trailers).toEqual(m.trailers);
      });
      if (expected.thenStatus === null) {
        expect(o.error).toBeNull();
        expect(o.messages.length).toBe(expected.messages.length);
      } else {
        expect(o.error).not.toBeNull();
        expect(expected.thenStatus).toContain(o.error?.status ?? 0);
      }
      break;
    }
    case "rejects":
      expect(o.error).not.toBeNull();
      expect(expected.statuses).toContain(o.error?.status ?? 0);
      expect(o.messages.filter((m) => m.trailers !== null)).toEqual([]);
      break;
    case "waits":
      expect(o.error).toBeNull();
      expect(o.messages.filter((m) => m.trailers !== null)).toEqual([]);
      if (expected.head !== null) {
        expect(o.messages.length).toBe(1);
        expect(o.messages[0].head).toMatchObject(expected.head);
      }
      break;
  }
}

export function registerRows(rows: Row[], limits?: Partial<ParserLimits>): void {
  for (const [behaviour, raw, expected] of rows) {
    test(behaviour, () => {
      check(parse(raw, limits), expected);
    });
  }
}
