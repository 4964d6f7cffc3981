// Property tests (fast-check): the parser against a model of valid requests, and against garbage.
//
// Strategy: a generator builds a model of 1-3 pipelined valid requests (methods, the three
// request-target forms tray serves, header fields with obs-text and OWS padding, Content-Length
// bodies of raw bytes, chunked bodies with chunk extensions and trailers), serializes it, cuts the
// bytes at random points, and checks the parser gives back exactly the model. A second property
// mutates valid requests (bytes changed, inserted, deleted) and checks the parser only ever answers
// with events or protocol errors, never throws, and does not depend on where the bytes were cut.
// Runs are capped so the file stays well under 20 s on a loaded 2-core machine.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { RequestHead } from "../../src/http/parser.ts";
import type { Authority } from "../../src/http/authority.ts";
import { bytes, concat, feedChunks, latin1, outcome, parseEverySplit } from "./harness.ts";

const RUNS_VALID = 400;
const RUNS_MUTATED = 250;

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";
const SUB_DELIMS = "!$&'()*+,;=";
const PCHAR = UNRESERVED + SUB_DELIMS + ":@";
/** Field names the parser interprets; the model adds these itself so it knows what to expect. */
const INTERPRETED = new Set(["host", "content-length", "transfer-encoding", "connection", "expect", "upgrade"]);

const chars = (set: string, min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...set.split("")), minLength: min, maxLength: max });

const token = (max: number): fc.Arbitrary<string> => chars(TCHARS, 1, max);
const fieldName = token(12).filter((n) => !INTERPRETED.has(n.toLowerCase()));

/** field-value: VCHAR and obs-text, SP/HTAB only inside (RFC 9110 §5.5). */
const fieldValue: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
      { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
      { weight: 2, arbitrary: fc.constantFrom(0x20, 0x09) },
    ),
    { maxLength: 24 },
  )
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ""));

const ows = chars(" \t", 0, 3);

const pctEncoded = fc.tuple(fc.constantFrom(..."0123456789ABCDEFabcdef".split("")), fc.constantFrom(..."0123456789ABCDEF".split(""))).map(([a, b]) => `%${a}${b}`);
const segment = fc.array(fc.oneof({ weight: 5, arbitrary: chars(PCHAR, 1, 1) }, { weight: 1, arbitrary: pctEncoded }), { maxLength: 8 }).map((a) => a.join(""));
const absolutePath = fc.array(segment, { minLength: 1, maxLength: 4 }).map((segs) => `/${segs.join("/")}`);
const query = fc.option(chars(`${PCHAR}/?`, 0, 12), { nil: undefined });
const hostValue = fc
  .tuple(chars("abcdefghijklmnopqrstuvwxyz0123456789-.", 1, 20), fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }))
  // Only hosts the WHATWG URL parser takes (not "1.2.3.999", "a.1", "xn--") and keeps (not "2" or
  // "1.2.3.04", which it rewrites to an IPv4 address: RFC 3986 §7.4): the others are 400s.
  .filter(([h]) => {
    const hostname = URL.parse(`http://${h}/`)?.hostname;
    return hostname !== undefined && (hostname === h || !/^[0-9.]+$/.test(hostname));
  })
  .map(([h, port]) => (port === undefined ? h : `${h}:${port}`));

type Target = { target: string; path: string; authority: string | null; scheme: string | null };
const originForm: fc.Arbitrary<Target> = fc.tuple(absolutePath, query).map(([p, q]) => {
  const t = q === undefined ? p : `${p}?${q}`;
  return { target: t, path: t, authority: null, scheme: null };
});
const absoluteForm: fc.Arbitrary<Target> = fc
  .tuple(fc.constantFrom("http", "https"), hostValue, fc.option(absolutePath, { nil: undefined }), query)
  .map(([scheme, host, p, q]) => {
    const pathPart = p ?? "";
    const t = `${scheme}://${host}${pathPart}${q === undefined ? "" : `?${q}`}`;
    // RFC 9110 §4.2.3: an empty path is "/".
    const path = `${pathPart === "" ? "/" : pathPart}${q === undefined ? "" : `?${q}`}`;
    return { target: t, path, authority: host, scheme };
  });

const method = fc.oneof(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "QUERY"), token(10)).filter((m) => m !== "CONNECT");

interface Chunk {
  data: Uint8Array;
  sizeText: string;
  ext: string;
}
type Body =
  | { kind: "none" }
  | { kind: "length"; data: Uint8Array }
  | { kind: "chunked"; chunks: Chunk[]; lastExt: string; trailers: [string, string][] };

const extValue = fc.oneof(
  token(8),
  fc
    .array(fc.oneof(chars(' !#$%&()*+,-./:;<=>?@[]^_`{|}~abcXYZ019\t', 1, 1), fc.constantFrom('\\"', "\\\\", "\\a", "\xe9")), { maxLength: 8 })
    .map((parts) => `"${parts.join("")}"`),
);
const chunkExt = fc
  .array(fc.tuple(ows, ows, token(8), fc.option(fc.tuple(ows, ows, extValue), { nil: undefined })), { maxLength: 3 })
  .map((exts) => exts.map(([b1, b2, name, v]) => `${b1};${b2}${name}${v === undefined ? "" : `${v[0]}=${v[1]}${v[2]}`}`).join(""));
const chunk: fc.Arbitrary<Chunk> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.integer({ min: 0, max: 3 }), fc.boolean(), chunkExt)
  .map(([data, zeros, upper, ext]) => {
    const hex = data.length.toString(16);
    return { data, sizeText: "0".repeat(zeros) + (upper ? hex.toUpperCase() : hex), ext };
  });
const fieldLines = (max: number): fc.Arbitrary<[string, string, string, string][]> => fc.array(fc.tuple(fieldName, ows, fieldValue, ows), { maxLength: max });

interface Model {
  method: string;
  target: Target;
  versionMinor: 0 | 1;
  connection: "" | "close" | "keep-alive";
  expectContinue: boolean;
  host: string | null;
  hostAt: number;
  fields: [string, string, string, string][];
  body: Body;
}

function modelArb(last: boolean): fc.Arbitrary<Model> {
  return fc
    .record({
      method,
      asterisk: fc.boolean(),
      target: fc.oneof({ weight: 4, arbitrary: originForm }, { weight: 1, arbitrary: absoluteForm }),
      versionMinor: fc.constantFrom<0 | 1>(0, 1, 1, 1),
      connection: fc.constantFrom<"" | "close" | "keep-alive">("", "", "close", "keep-alive"),
      expectContinue: fc.boolean(),
      host: fc.option(hostValue, { nil: null }),
      hostAt: fc.nat(),
      fields: fieldLines(6),
      bodyKind: fc.constantFrom("none", "length", "chunked"),
      data: fc.uint8Array({ maxLength: 200 }),
      chunks: fc.array(chunk, { maxLength: 4 }),
      lastExt: chunkExt,
      trailers: fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 3 }),
    })
    .map((r): Model => {
      const versionMinor = r.versionMinor;
      // Only the last request may close the connection: nothing after it would be read.
      let connection = r.connection;
      if (!last && (connection === "close" || (versionMinor === 0 && connection !== "keep-alive"))) connection = "keep-alive";
      const target = r.asterisk ? { target: "*", path: "*", authority: null, scheme: null } : r.target;
      const m = r.asterisk ? "OPTIONS" : r.method;
      let body: Body = { kind: "none" };
      if (r.bodyKind === "length") body = { kind: "length", data: r.data };
      // RFC 9112 §6.1: chunked is HTTP/1.1 only.
      if (r.bodyKind === "chunked" && versionMinor === 1) body = { kind: "chunked", chunks: r.chunks, lastExt: r.lastExt, trailers: r.trailers };
      return {
        method: m,
        target,
        versionMinor,
        connection,
        expectContinue: r.expectContinue && versionMinor === 1,
        host: versionMinor === 1 ? (r.host ?? "example.com") : r.host,
        hostAt: r.hostAt,
        fields: r.fields,
        body,
      };
    });
}

interface Expected {
  head: RequestHead;
  body: string;
  trailers: string[];
}

function serialize(m: Model): { raw: Uint8Array; expected: Expected } {
  const lines: [string, string, string, string][] = [...m.fields];
  if (m.connection !== "") lines.push(["Connection", " ", m.connection, ""]);
  if (m.expectContinue) lines.push(["Expect", " ", "100-continue", ""]);
  if (m.body.kind === "length") lines.push(["Content-Length", " ", String(m.body.data.length), ""]);
  if (m.body.kind === "chunked") lines.push(["Transfer-Encoding", " ", "chunked", ""]);
  if (m.host !== null) lines.splice(m.hostAt % (lines.length + 1), 0, ["Host", " ", m.host, ""]);

  let head = `${m.method} ${m.target.target} HTTP/1.${m.versionMinor}\r\n`;
  for (const [name, pre, value, post] of lines) head += `${name}:${pre}${value}${post}\r\n`;
  head += "\r\n";
  const parts: Uint8Array[] = [bytes(head)];
  let body = "";
  const trailers: string[] = [];
  if (m.body.kind === "length") {
    parts.push(m.body.data);
    body = latin1(m.body.data);
  } else if (m.body.kind === "chunked") {
    for (const c of m.body.chunks) {
      parts.push(bytes(`${c.sizeText}${c.ext}\r\n`), c.data, bytes("\r\n"));
      body += latin1(c.data);
    }
    let tail = `0${m.body.lastExt}\r\n`;
    for (const [name, value] of m.body.trailers) {
      tail += `${name}: ${value}\r\n`;
      trailers.push(name, value);
    }
    parts.push(bytes(`${tail}\r\n`));
  }
  const keepAlive = m.connection === "close" ? false : m.versionMinor === 1 ? true : m.connection === "keep-alive";
  const expectedHead: RequestHead = {
    method: m.method,
    target: m.target.target,
    path: m.target.path,
    versionMinor: m.versionMinor,
    headers: absoluteHeaders(lines.flatMap(([name, , value]) => [name, value]), m.target.authority),
    authority: (m.target.authority ?? m.host) as Authority | null,
    scheme: m.target.scheme,
    contentLength: m.body.kind === "length" ? m.body.data.length : null,
    chunked: m.body.kind === "chunked",
    keepAlive,
    expectContinue: m.expectContinue,
    upgrade: false,
  };
  return { raw: concat(parts), expected: { head: expectedHead, body, trailers } };
}

const pipeline = fc
  .tuple(fc.array(modelArb(false), { maxLength: 2 }), modelArb(true))
  .map(([first, last]) => [...first, last].map(serialize))
  .map((reqs) => ({ raw: concat(reqs.map((r) => r.raw)), expected: reqs.map((r) => r.expected) }));

/** Cuts `raw` at the given points (any values; reduced modulo the length and sorted). */
function cut(raw: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (raw.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const p of at) {
    pieces.push(raw.slice(prev, p));
    prev = p;
  }
  pieces.push(raw.slice(prev));
  return pieces;
}

describe("random valid requests parse back to what was sent", () => {
  test("serialized, pipelined, and cut at random points", () => {
    fc.assert(
      fc.property(pipeline, fc.array(fc.nat(), { maxLength: 12 }), ({ raw, expected }, points) => {
        const whole = feedChunks([raw]);
        const o = outcome(whole.steps);
        expect(o.error).toBeNull();
        expect(o.messages.map((m) => ({ head: m.head, body: m.body, trailers: m.trailers }))).toEqual(expected);
        expect(feedChunks(cut(raw, points))).toEqual(whole);
      }),
      { numRuns: RUNS_VALID, includeErrorInReport: true },
    );
  });

  test("one byte at a time", () => {
    fc.assert(
      fc.property(pipeline, ({ raw, expected }) => {
        const pieces: Uint8Array[] = [];
        for (let i = 0; i < raw.length; i++) pieces.push(raw.slice(i, i + 1));
        const o = outcome(feedChunks(pieces).steps);
        expect(o.error).toBeNull();
        expect(o.messages.map((m) => ({ head: m.head, body: m.body, trailers: m.trailers }))).toEqual(expected);
      }),
      { numRuns: Math.floor(RUNS_VALID / 4), includeErrorInReport: true },
    );
  });
});

// Bytes that matter to the grammar, more often than chance would pick them.
const interestingByte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x00, 0x3b, 0x22, 0x5c, 0x2c, 0x3d, 0x30, 0x31, 0x61, 0x46) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 0xff }) },
);
type Mutation = { kind: "set" | "insert"; at: number; byte: number } | { kind: "delete"; at: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant<"set">("set"), at: fc.nat(), byte: interestingByte }),
  fc.record({ kind: fc.constant<"insert">("insert"), at: fc.nat(), byte: interestingByte }),
  fc.record({ kind: fc.constant<"delete">("delete"), at: fc.nat() }),
);

function mutate(raw: Uint8Array, mutations: Mutation[]): Uint8Array {
  const b = [...raw];
  for (const m of mutations) {
    if (m.kind === "insert") b.splice(m.at % (b.length + 1), 0, m.byte);
    else if (b.length === 0) continue;
    else if (m.kind === "set") b[m.at % b.length] = m.byte;
    else b.splice(m.at % b.length, 1);
  }
  return new Uint8Array(b);
}

const STATUSES = [400, 413, 414, 431, 501, 505];

describe("random mutations of valid requests", () => {
  test("never throw, only protocol errors, and the same result however the bytes are cut", () => {
    fc.assert(
      fc.property(pipeline, fc.array(mutation, { minLength: 1, maxLength: 4 }), ({ raw }, mutations) => {
        const input = mutate(raw, mutations);
        // parseEverySplit throws on any exception, any event after an error, or any disagreement
        // between the whole input, every two-way split, and byte-at-a-time feeding.
        const result = parseEverySplit(input, undefined, 64);
        const o = outcome(result.steps);
        if (o.error !== null) expect(STATUSES).toContain(o.error.status);
      }),
      { numRuns: RUNS_MUTATED, includeErrorInReport: true },
    );
  });

  test("small limits: mutated requests still end in events or a protocol error", () => {
    fc.assert(
      fc.property(pipeline, fc.array(mutation, { maxLength: 3 }), fc.array(fc.nat(), { maxLength: 8 }), ({ raw }, mutations, points) => {
        const limits = { maxHeadSize: 96, maxTargetLength: 24, maxBodySize: 64 };
        const input = mutate(raw, mutations);
        const whole = feedChunks([input], limits);
        const pieces = cut(input, points);
        const split = feedChunks(pieces, limits);
        if (!Bun.deepEquals(split, whole, true)) {
          const errors = (r: typeof whole): string => JSON.stringify(r.steps.filter((st) => st.type !== "head"));
          throw new Error(`cut into ${pieces.map((p) => p.length).join("+")} bytes: ${errors(split)}; whole: ${errors(whole)}; input ${JSON.stringify(latin1(input))}`);
        }
        const o = outcome(whole.steps);
        if (o.error !== null) expect(STATUSES).toContain(o.error.status);
      }),
      { numRuns: RUNS_MUTATED, includeErrorInReport: true },
    );
  });
});

/** RFC 9112 §3.2.2: an absolute-form target's authority replaces Host (or is added as one). */
function absoluteHeaders(headers: string[], authority: string | null): string[] {
  if (authority === null) return headers;
  const i = headers.indexOf("Host");
  if (i === -1) return [...headers, "Host", authority];
  const out = headers.slice();
  out[i + 1] = authority;
  return out;
}
