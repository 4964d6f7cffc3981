// The external request corpora (../shared/conformance) against dist/tray as a black box, with the
// corpora's own runner (blackbox.mjs, run by node): whole, and one byte per write. The parser runs
// the same corpora in test/http/conformance.test.ts; this proves the server around it agrees.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES, ROOT, parseResponses, rawConnect, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

const CONFORMANCE = join(ROOT, "..", "shared", "conformance");
/** Where tray follows the RFC against a corpus' verdict (see test/http/conformance.test.ts). */
const DEVIATIONS = new Set([
  "llhttp:uri.md:165", // "#" in a request-target: RFC 9112 §3.2.1 has no fragment; tray answers 400
]);

const haveCorpora = existsSync(join(CONFORMANCE, "blackbox.mjs"));
const node = Bun.which("node");

let tray: Tray;
const scratch = mkdtempSync(join(tmpdir(), "tray-conformance-"));
beforeAll(async () => {
  tray = await startTray(["--threads=2", join("conformance", "echo.ts")], { cwd: FIXTURES });
});
afterAll(async () => {
  await tray.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface Verdict {
  id: string;
  pass: boolean;
}

async function blackbox(corpus: string, extra: string[]): Promise<Verdict[]> {
  const out = join(scratch, `${corpus}-${extra.join("") || "whole"}.json`);
  const proc = Bun.spawn([node!, join(CONFORMANCE, "blackbox.mjs"), "--port", String(tray.port), "--in", join(CONFORMANCE, `${corpus}.json`), "--out", out, ...extra], {
    stdout: "pipe",
    stderr: "pipe",
  });
  await proc.exited;
  const data = JSON.parse(readFileSync(out, "utf8")) as Verdict[] | { results: Verdict[] };
  return Array.isArray(data) ? data : data.results;
}

describe.skipIf(!haveCorpora || node === null)("external corpora through dist/tray", () => {
  for (const corpus of ["llhttp", "hdg"]) {
    for (const extra of [[], ["--split", "1"]]) {
      test(`${corpus}${extra.length ? " one byte per write" : ""}: every judged item passes`, async () => {
        const verdicts = await blackbox(corpus, extra);
        expect(verdicts.length).toBeGreaterThan(100);
        const failed = verdicts.filter((v) => v.pass === false && !DEVIATIONS.has(v.id)).map((v) => v.id);
        expect(failed).toEqual([]);
      }, 120000);
    }
  }
});

test("a Connection: close request whose body arrives in pieces is answered", async () => {
  const socket = await rawConnect(tray.port);
  const chunks: Buffer[] = [];
  socket.on("data", (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello");
  await Bun.sleep(100); // the rest of the body comes in a later packet
  socket.write("world");
  await Promise.race([closed, Bun.sleep(5000)]);
  socket.destroy();
  const [response] = parseResponses(Buffer.concat(chunks).toString("latin1"));
  expect(response?.status).toBe(200);
  expect(Buffer.from(JSON.parse(response.body).body, "base64").toString()).toBe("helloworld");
});
