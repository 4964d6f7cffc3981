// Issue 13 item 2: with its file descriptors exhausted tray must not spin on accept() (Bun's
// listener retries a failed accept4() -> EMFILE in a tight loop), must keep serving the
// connections it holds, and logs the episode once (src/server/descriptor-budget.ts).
// The limit is lowered on the running tray with prlimit(1), before its first connection.

import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { join } from "node:path";
import { FIXTURES } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse, get, roundTrip, startOnFreePort } from "./http-helpers.ts";

const NOFILE = 64;
const IDLE_CONNECTIONS = 150; // far more than 64 descriptors
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** utime + stime of the whole process, in seconds (/proc/PID/stat fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

let tray: Tray;
const idle: Socket[] = [];

beforeAll(async () => {
  // --connection-limit above the descriptors: tray's own waiting queue would hold them all.
  tray = await startOnFreePort(["--connection-limit=1000", "app.ts"], { cwd: join(FIXTURES, "http") });
  const r = spawnSync("prlimit", [`--pid=${tray.proc.pid}`, `--nofile=${NOFILE}:${NOFILE}`]);
  if (r.status !== 0) throw new Error(`prlimit failed: ${r.stderr}`);
});

afterAll(async () => {
  for (const s of idle) s.destroy();
  await tray?.stop();
});

test("descriptors exhausted: no busy loop, a held keep-alive connection is still answered, one log line", async () => {
  const held = await converse(tray.port);
  try {
    held.send(get("/text"));
    await held.waitForResponses(1);
    for (let i = 0; i < IDLE_CONNECTIONS; i++) {
      const s = connect({ host: "127.0.0.1", port: tray.port });
      s.on("error", () => {});
      idle.push(s);
    }
    // Wait until tray says it is refusing (bounded), then measure CPU over 2 s.
    const deadline = Date.now() + 5000;
    while (!tray.stderr().includes("hold all the file descriptors") && Date.now() < deadline) await Bun.sleep(20);
    expect(tray.stderr()).toContain("hold all the file descriptors");
    const before = cpuSeconds(tray.proc.pid!);
    await Bun.sleep(2000);
    const used = cpuSeconds(tray.proc.pid!) - before;
    expect(used).toBeLessThan(0.5); // the spin was ~1.9 s of CPU in 2 s
    held.send(get("/text"));
    const both = await held.waitForResponses(2, 3000);
    expect(both[1].body).toBe("hello world");
    expect(tray.stderr().match(/hold all the file descriptors/g)?.length).toBe(1);
  } finally {
    held.destroy();
  }
  // Once the idle connections end tray accepts again, and says so.
  for (const s of idle.splice(0)) s.destroy();
  const deadline = Date.now() + 5000;
  while (!tray.stderr().includes("accepting connections again") && Date.now() < deadline) await Bun.sleep(20);
  expect(tray.stderr()).toContain("accepting connections again");
  const { responses } = await roundTrip(tray.port, get("/text"), { timeoutMs: 3000 });
  expect(responses[0].body).toBe("hello world");
}, 20_000);
