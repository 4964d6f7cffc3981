// --admin-listen through dist/tray over real sockets: the probes, /metrics (checked by promtool
// when installed), counts that move with requests, /readyz turning 503 on SIGTERM while a request
// drains, and answers within 200 ms while the only Worker is stuck in a busy loop.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { FIXTURES, runTray, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

const CWD = join(FIXTURES, "ops");
const HAS_PROMTOOL = spawnSync("promtool", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAS_PROMTOOL) console.warn("admin.test.ts: promtool is not installed (Debian package prometheus); skipping the promtool check");

/** Starts tray with --admin-listen on a free port; resolves with the tray and its admin base URL. */
async function startWithAdmin(args: string[] = []): Promise<{ tray: Tray; admin: string }> {
  const tray = await startTray(["--threads=1", "--admin-listen=127.0.0.1:0", ...args, "app.ts"], { cwd: CWD });
  const deadline = Date.now() + 5000;
  let m: RegExpExecArray | null = null;
  while ((m = /Admin listener on (http:\/\/127\.0\.0\.1:\d+)/.exec(tray.stderr())) === null && Date.now() < deadline) await Bun.sleep(20);
  if (m === null) throw new Error(`no admin listener line:\n${tray.stderr()}`);
  return { tray, admin: m[1] };
}

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; body: string; headers: Headers; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const body = await r.text();
  return { status: r.status, body, headers: r.headers, ms: performance.now() - t0 };
}

/** The value of one sample line of /metrics (`name{labels} value`), or NaN. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

async function waitForSample(admin: string, series: string, want: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (sample((await get(`${admin}/metrics`)).body, series) === want) return;
    await Bun.sleep(20);
  }
  throw new Error(`${series} never reached ${want}`);
}

describe("admin listener", () => {
  let tray: Tray;
  let admin: string;
  beforeAll(async () => {
    ({ tray, admin } = await startWithAdmin());
  });
  afterAll(async () => {
    await tray?.stop();
  });

  test("/livez and /readyz answer 200 once serving", async () => {
    const live = await get(`${admin}/livez`);
    expect(live.status).toBe(200);
    expect(live.body).toContain("1 Worker(s) with the app loaded");
    expect(live.headers.get("cache-control")).toBe("no-store");
    expect((await get(`${admin}/readyz`)).status).toBe(200);
  });

  test("the admin listener never reaches the app: its paths are tray's, the app's are not there", async () => {
    expect((await get(`${tray.url}/livez`)).body).toBe("hello\n"); // the app's own listener: the app answers
    const other = await get(`${admin}/`);
    expect(other.status).toBe(404);
    expect(other.body).toContain("try /livez, /readyz or /metrics");
  });

  test("other methods get 405 with Allow; HEAD gets the head only", async () => {
    const post = await get(`${admin}/readyz`, { method: "POST", body: "" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const head = await get(`${admin}/metrics`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
    expect(Number(head.headers.get("content-length"))).toBeGreaterThan(0);
  });

  test("/metrics is Prometheus text 0.0.4 and its counts move with requests", async () => {
    const before = await get(`${admin}/metrics`);
    expect(before.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const ok = sample(before.body, 'tray_requests_total{status_class="2xx"}');
    const missing = sample(before.body, 'tray_requests_total{status_class="4xx"}');
    const count = sample(before.body, "tray_request_duration_seconds_count");
    expect((await get(`${tray.url}/`)).status).toBe(200);
    expect((await get(`${tray.url}/`)).status).toBe(200);
    expect((await get(`${tray.url}/status/404`)).status).toBe(404);
    const after = (await get(`${admin}/metrics`)).body;
    expect(sample(after, 'tray_requests_total{status_class="2xx"}')).toBe(ok + 2);
    expect(sample(after, 'tray_requests_total{status_class="4xx"}')).toBe(missing + 1);
    expect(sample(after, "tray_request_duration_seconds_count")).toBe(count + 3);
    expect(sample(after, "tray_requests_in_flight")).toBe(0);
    expect(sample(after, "process_resident_memory_bytes")).toBeGreaterThan(1_000_000);
    expect(Math.abs(sample(after, "process_start_time_seconds") - Date.now() / 1000)).toBeLessThan(600);
  });

  test.skipIf(!HAS_PROMTOOL)("promtool check metrics accepts /metrics", async () => {
    const text = (await get(`${admin}/metrics`)).body;
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", timeout: 10_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  test("a Worker that dies counts as a crash restart, and /livez is 200 again once it is replaced", async () => {
    const before = sample((await get(`${admin}/metrics`)).body, 'tray_worker_restarts_total{reason="crash"}');
    expect((await get(`${tray.url}/exit`)).status).toBe(500);
    await waitForSample(admin, 'tray_worker_restarts_total{reason="crash"}', before + 1);
    const deadline = Date.now() + 10_000;
    while ((await get(`${admin}/livez`)).status !== 200 && Date.now() < deadline) await Bun.sleep(50);
    expect((await get(`${admin}/livez`)).status).toBe(200);
  });

  test("probes and /metrics answer within 200 ms while the only Worker spins in a busy loop", async () => {
    const blocked = get(`${tray.url}/block?ms=3000`);
    await waitForSample(admin, "tray_requests_in_flight", 1);
    // The Worker is now inside the loop; the admin listener is the main thread's.
    for (const path of ["/livez", "/readyz", "/metrics"]) {
      const r = await get(`${admin}${path}`);
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(200);
    }
    expect((await blocked).body).toBe("unblocked\n");
  });
});

describe("admin listener while shutting down", () => {
  test("/readyz turns 503 on SIGTERM while a slow request drains; /livez stays 200; the request completes", async () => {
    const { tray, admin } = await startWithAdmin(["--shutdown-timeout=10"]);
    try {
      const slow = get(`${tray.url}/slow?ms=2000`);
      await waitForSample(admin, "tray_requests_in_flight", 1);
      tray.proc.kill("SIGTERM");
      const deadline = Date.now() + 2000;
      let ready = await get(`${admin}/readyz`);
      while (ready.status === 200 && Date.now() < deadline) ready = await get(`${admin}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toContain("shutting down");
      expect((await get(`${admin}/livez`)).status).toBe(200);
      const answered = await slow;
      expect(answered.status).toBe(200);
      expect(await tray.exited).toBe(0);
    } finally {
      await tray.stop();
    }
  });

  test("an admin address already in use fails start-up with one line and exit status 1", async () => {
    const { tray, admin } = await startWithAdmin();
    try {
      const port = new URL(admin).port;
      const second = spawnSync(join(import.meta.dir, "..", "..", "dist", "tray"), ["--host=127.0.0.1", "--port=0", `--admin-listen=127.0.0.1:${port}`, "app.ts"], { cwd: CWD, encoding: "utf8", timeout: 20_000 });
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`tray: cannot open the admin listener on 127.0.0.1:${port} (--admin-listen): the address is already in use`);
    } finally {
      await tray.stop();
    }
  });
});

describe("the operations options on the command line", () => {
  test("--help lists --admin-listen and --proxy-protocol", async () => {
    const r = await runTray(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("    --admin-listen=HOST:PORT\n");
    expect(r.stdout).toContain("    --[no-]proxy-protocol\n");
  });

  test.each([
    [["--admin-listen=9090", "app.ts"], "tray: --admin-listen=9090 is not HOST:PORT; write it as in --admin-listen=127.0.0.1:9090 or --admin-listen=[::1]:9090. Try 'tray --help'.\n"],
    [["--proxy-protocol", "app.ts"], "tray: --proxy-protocol needs --trusted-proxy: name the proxy whose connections begin with a PROXY header. Try 'tray --help'.\n"],
  ])("%j exits 2 with one line", async (args, line) => {
    const r = await runTray(args as string[], { cwd: CWD });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(line);
  });
});
