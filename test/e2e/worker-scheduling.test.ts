// On Linux the Worker threads of dist/tray run as SCHED_BATCH (src/pool/batch-scheduling.ts):
// a Worker that wakes up with new requests does not preempt the main thread, which owns the
// sockets. The main thread and everything else keep the default policy (SCHED_OTHER).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, startTray, type Tray } from "./harness.ts";

const SCHED_OTHER = 0;
const SCHED_BATCH = 3;

/** name and scheduling policy (proc(5) /proc/PID/task/TID/stat field 41) of each thread. */
function threadPolicies(pid: number): Array<{ name: string; policy: number }> {
  const out: Array<{ name: string; policy: number }> = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3
      out.push({ name, policy: Number(fields[41 - 3]) });
    } catch {
      // the thread exited meanwhile
    }
  }
  return out;
}

describe.skipIf(process.platform !== "linux")("Worker scheduling policy", () => {
  let tray: Tray;
  beforeAll(async () => {
    tray = await startTray(["--threads=3", join(FIXTURES, "output", "app.ts")]);
  });
  afterAll(async () => {
    await tray.stop();
  });

  test("every Worker thread is SCHED_BATCH; the main thread stays SCHED_OTHER", async () => {
    // The Workers have loaded the app once tray says it is serving.
    const threads = threadPolicies(tray.proc.pid!);
    const workers = threads.filter((t) => t.name === "Worker");
    expect(workers.length).toBe(3);
    expect(workers.map((t) => t.policy)).toEqual([SCHED_BATCH, SCHED_BATCH, SCHED_BATCH]);
    const main = threads.find((t) => t.name === "tray");
    expect(main?.policy).toBe(SCHED_OTHER);
    // And they serve.
    const response = await fetch(`${tray.url}/small/1`);
    expect(await response.text()).toBe("small 1.");
  });
});
