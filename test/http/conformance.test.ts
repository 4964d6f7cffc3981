// The external request corpora in ../shared/conformance (llhttp's fixtures, http-desync-guardian's
// severe cases), run through the parser directly: one generated test per judged item.
//
// Strategy: the parser's events are turned into what a server built on it would answer, exactly
// as the corpus README and blackbox.mjs judge a live server: a complete message is a 2xx (and if
// it does not keep the connection alive the server closes after it, so later bytes are never
// answered), an error event is one 4xx/5xx and a close, and a message still open at the end of
// the bytes means the server is still waiting. That observation is judged with blackbox.mjs's
// rules (including `a|b`, accept-then-*, expect_count, and byte-exact method/body of
// expect_messages). Each item is also parsed split at every offset and byte by byte (as
// `--split 1` does), which must not change anything.
//
// "undecided" is blackbox.mjs's word for: a reject was expected but the server is still waiting
// for bytes. It counts as neither passed nor failed there; here it fails, because every judged item
// must pass (issue 2) and in every such item the error is already in the bytes sent (a bare CR, a
// second Content-Length, a version...): a parser should say so when it sees it, not when the head
// ends. The summary printed after each corpus lists them apart.
//
// Where a corpus disagrees with DESIGN.md §4 / RFC 9110-9112, OVERRIDES says what tray does
// instead and why; tray follows the RFC, not the corpus.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEverySplit } from "./harness.ts";
import type { Step } from "./harness.ts";

interface ExpectedMessage {
  method: string | null;
  body: string | null;
}
interface Item {
  id: string;
  title?: string;
  raw_b64?: string;
  sends_b64?: string[];
  expect?: string | null;
  expect_count?: number | null;
  expect_messages?: ExpectedMessage[] | null;
}

type Verdict = "accept" | "reject" | "accept-then-reject" | "incomplete";

interface Observation {
  observed: Verdict;
  closed: boolean;
  statuses: number[];
  echoes: { method: string; body: string }[];
}

/** Where tray deliberately differs from a corpus verdict, and the rule it follows instead. */
const OVERRIDES: Record<string, { expect: string; why: string }> = {
  "llhttp:uri.md:165": {
    // GET /forums/1/topics/2375?page=1#posts-17408 HTTP/1.1 -- llhttp accepts it.
    expect: "reject",
    why:
      "RFC 9112 §3.2.1: origin-form = absolute-path [ \"?\" query ], and RFC 3986 §3.4 query excludes \"#\"; " +
      "a fragment is never part of a request-target (RFC 9110 §7.1). An invalid request-line gets 400 (RFC 9112 §3).",
  },
  "hdg:severe.yaml:2": {
    // Content-Length: 1000,1000 -- http-desync-guardian calls any list "BadContentLength".
    expect: "incomplete",
    why:
      "RFC 9110 §8.6 lets a recipient replace a list of identical values with one; DESIGN.md §4 and issue 2 " +
      "collapse identical repeats, so this is Content-Length 1000 and the server waits for the body.",
  },
};

const CORPUS_DIR = join(import.meta.dir, "..", "..", "..", "shared", "conformance");
const CORPORA = ["llhttp.json", "hdg.json"];

function decode(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, "base64"));
}

/** What a server on this parser answers, from the parser's steps (see the header comment). */
function observe(steps: Step[]): Observation {
  const statuses: number[] = [];
  const echoes: { method: string; body: string }[] = [];
  let closed = false;
  let method = "";
  let body = "";
  let keepAlive = true;
  for (const s of steps) {
    if (s.type === "head") {
      method = s.head.method;
      body = "";
      keepAlive = s.head.keepAlive;
    } else if (s.type === "data") {
      body += s.data;
    } else if (s.type === "end") {
      statuses.push(200);
      echoes.push({ method, body });
      if (!keepAlive) {
        closed = true;
        break;
      }
    } else {
      statuses.push(s.status);
      closed = true;
      break;
    }
  }
  let observed: Verdict;
  if (statuses.length === 0) observed = closed ? "reject" : "incomplete";
  else {
    const firstBad = statuses.findIndex((st) => st >= 400);
    observed = firstBad === 0 ? "reject" : firstBad > 0 ? "accept-then-reject" : "accept";
  }
  return { observed, closed, statuses, echoes };
}

/** blackbox.mjs's judge(): true, false, or "undecided". */
function judge(expect: string, count: number | null | undefined, o: Observation): boolean | "undecided" {
  const n2xx = o.statuses.filter((s) => s >= 200 && s < 300).length;
  let ok = expect.split("|").some((e) => {
    if (e === o.observed) return true;
    if (e === "accept-then-close") return o.observed === "accept" && o.closed;
    if (e === "accept-then-incomplete" || e === "accept-then-reject") return o.observed === "accept" || o.observed === "accept-then-reject";
    if (e === "upgrade" || e === "h2-preface") return true;
    return false;
  });
  if (ok && count != null && o.observed.startsWith("accept") && n2xx !== count) ok = false;
  if (!ok && o.observed === "incomplete" && expect.split("|").includes("reject")) return "undecided";
  return ok;
}

/** blackbox.mjs's fieldCheck(): method and body of each answered message, byte-exact (latin-1). */
function fieldMismatches(expected: ExpectedMessage[] | null | undefined, o: Observation): string[] {
  const bad: string[] = [];
  (expected ?? []).forEach((m, i) => {
    const e = o.echoes[i];
    if (e === undefined) return;
    if (m.method !== null && e.method !== m.method) bad.push(`msg${i}: method ${JSON.stringify(e.method)} != ${JSON.stringify(m.method)}`);
    if (m.body !== null && e.body !== m.body) bad.push(`msg${i}: body ${JSON.stringify(e.body).slice(0, 80)} != ${JSON.stringify(m.body).slice(0, 80)}`);
  });
  return bad;
}

function itemBytes(item: Item): Uint8Array {
  const sends = (item.sends_b64 ?? (item.raw_b64 !== undefined ? [item.raw_b64] : [])).map(decode);
  return new Uint8Array(Buffer.concat(sends));
}

for (const file of CORPORA) {
  const path = join(CORPUS_DIR, file);
  describe(`corpus ${file}`, () => {
    if (!existsSync(path)) {
      test(`${path} is present (CI keeps shared/ beside the clone)`, () => {
        throw new Error(`missing corpus ${path}`);
      });
      return;
    }
    const items = JSON.parse(readFileSync(path, "utf8")) as Item[];
    const tally = { passed: 0, failed: 0, undecided: [] as string[] };

    for (const item of items) {
      const override = OVERRIDES[item.id];
      const expected = override?.expect ?? item.expect;
      if (expected === undefined || expected === null || expected === "") continue;
      test(`${item.id} ${item.title ?? ""} -> ${expected}${override ? ` (corpus says ${item.expect}; tray follows the RFC: ${override.why})` : ""}`, () => {
        let verdict: boolean | "undecided" = false;
        try {
          // Throws if any split disagrees with the whole (the --split 1 rule and stronger).
          const o = observe(parseEverySplit(itemBytes(item)).steps);
          verdict = judge(expected, item.expect_count, o);
          const seen = `observed ${o.observed} ${JSON.stringify(o.statuses)}`;
          if (verdict === "undecided") {
            throw new Error(`expected ${expected}, but the parser is still waiting for bytes (${seen}): the error is already in these bytes`);
          }
          if (verdict === false) throw new Error(`expected ${expected}${item.expect_count != null ? ` x${item.expect_count}` : ""}, ${seen}`);
          const mismatches = fieldMismatches(item.expect_messages, o);
          if (mismatches.length > 0) verdict = false;
          expect(mismatches).toEqual([]);
        } finally {
          if (verdict === "undecided") tally.undecided.push(item.id);
          else if (verdict === true) tally.passed++;
          else tally.failed++;
        }
      });
    }

    test("unjudged items never throw and do not depend on where the bytes are split", () => {
      for (const item of items) {
        if (item.expect) continue;
        parseEverySplit(itemBytes(item));
      }
    });

    afterAll(() => {
      const und = tally.undecided.length;
      console.log(`${file}: ${tally.passed} passed, ${tally.failed} failed, ${und} undecided${und ? ` (${tally.undecided.join(", ")})` : ""}`);
    });
  });
}
