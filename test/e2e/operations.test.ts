// Operations through dist/tray with real signals and sockets (issue 15): --worker-timeout replaces
// a Worker stuck in a loop (its request 503, the next one served); SIGHUP reloads the app with no
// failed request under load, and a version that fails to load leaves the old one serving;
// --max-requests recycles Workers under load with no failed request; --drain-delay keeps serving
// after SIGTERM for the delay, then exits 0. The app is a temp copy whose message file is edited.
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

setDefaultTimeout(60_000);

const APP = `import { message } from "./message.ts";
export default async function handle(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/spin") for (;;);
  if (path === "/hang") {
    request.signal.addEventListener("abort", () => (globalThis as { aborted?: boolean }).aborted = true);
    return new Promise<Response>(() => {});
  }
  if (path === "/grow") {
    // Allocates ~40 MiB every 20 ms from a timer (the event loop turns), never answers; capped.
    const kept: number[][] = [];
    const timer = setInterval(() => {
      if (kept.length >= 200) return clearInterval(timer);
      for (let i = 0; i < 5; i++) kept.push(new Array(1_000_000).fill(i));
    }, 20);
    return new Promise<Response>(() => {});
  }
  if (path === "/aborted") return new Response(String((globalThis as { aborted?: boolean }).aborted === true));
  if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 20));
  return new Response(message);
}
`;

let dir = "";
let tray: Tray | null = null;

const setMessage = (text: string) => writeFileSync(join(dir, "message.ts"), `export const message = ${JSON.stringify(text)};\n`);

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), "tray-ops-")));
  writeFileSync(join(dir, "app.ts"), APP);
  setMessage("v0");
});

afterEach(async () => {
  await tray?.stop();
  tray = null;
  rmSync(dir, { recursive: true, force: true });
});

async function waitForLog(what: string, n: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (tray!.stderr().split(what).length - 1 < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} x ${JSON.stringify(what)} in stderr:\n${tray!.stderr()}`);
    await Bun.sleep(20);
  }
}

interface LoadResult {
  ok: number;
  failures: string[];
  bodies: Set<string>;
}

/** `clients` concurrent keep-alive fetch loops for `ms`: every answer must be a 200. */
async function load(url: string, clients: number, ms: number): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [], bodies: new Set() };
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < until) {
        try {
          const r = await fetch(url);
          const body = await r.text();
          if (r.status === 200) {
            result.ok++;
            result.bodies.add(body);
          } else result.failures.push(`${r.status} ${body}`);
        } catch (error) {
          result.failures.push(String(error));
        }
      }
    }),
  );
  return result;
}

describe("--worker-timeout", () => {
  test("a handler looping forever gets 503 within the timeout and a log line; other Workers serve meanwhile; a fresh connection afterwards is served", async () => {
    tray = await startTray(["--threads=2", "--worker-timeout=2", "app.ts"], { cwd: dir });
    const started = Date.now();
    const spin = fetch(`${tray.url}/spin`, { headers: { connection: "close" } });
    await Bun.sleep(200);
    const other = await fetch(`${tray.url}/`, { headers: { connection: "close" } });
    expect(other.status).toBe(200);
    const r = await spin;
    const took = Date.now() - started;
    expect(r.status).toBe(503);
    expect(took).toBeLessThan(3_500);
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(tray.stderr()).toMatch(/"GET \/spin HTTP\/1\.1" got 503 after 2\.\d s: its Worker was replaced \(timeout\)/);
    const next = await fetch(`${tray.url}/`, { headers: { connection: "close" } });
    expect(next.status).toBe(200);
    expect(await next.text()).toBe("v0");
  });
});

describe("--request-timeout", () => {
  test("a request with no response head in time gets 503, the app sees request.signal abort, the connection serves on", async () => {
    tray = await startTray(["--request-timeout=1", "app.ts"], { cwd: dir });
    const started = Date.now();
    const r = await fetch(`${tray.url}/hang`);
    expect(r.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await (await fetch(`${tray.url}/aborted`)).text()).toBe("true");
    expect(tray.stderr()).toMatch(/"GET \/hang HTTP\/1\.1" got 503 after 1\.\d s with no response \(--request-timeout=1\)/);
  });
});

describe("--worker-max-memory", () => {
  test("a handler allocating without bound: its Worker is replaced, the request gets 503 with a log line, the next one is served", async () => {
    tray = await startTray(["--worker-max-memory=200", "app.ts"], { cwd: dir });
    const started = Date.now();
    const r = await fetch(`${tray.url}/grow`, { headers: { connection: "close" } });
    expect(r.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(tray.stderr()).toMatch(/replaced \(memory\)/);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("v0");
  });
});

describe("SIGHUP", () => {
  test("reloads the app with no failed request under load (8 keep-alive clients, 3 reloads)", async () => {
    tray = await startTray(["--threads=2", "app.ts"], { cwd: dir });
    const url = `${tray.url}/slow`;
    const running = load(url, 8, 4_000);
    for (let n = 1; n <= 3; n++) {
      await Bun.sleep(900);
      setMessage(`v${n}`);
      tray.proc.kill("SIGHUP");
      await waitForLog("Reloaded the app in", n);
    }
    const result = await running;
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
    expect(result.bodies.has("v3")).toBe(true);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("v3");
    expect(tray.stderr().split("Received SIGHUP, reloading the app").length - 1).toBe(3);
  });

  test("a version that fails to load is logged and the old one serves on", async () => {
    tray = await startTray(["app.ts"], { cwd: dir });
    writeFileSync(join(dir, "message.ts"), "export const message = ;\n");
    tray.proc.kill("SIGHUP");
    await waitForLog("Reload failed, the previous code keeps serving:", 1);
    const r = await fetch(`${tray.url}/`, { headers: { connection: "close" } });
    expect(await r.text()).toBe("v0");
    setMessage("fixed");
    tray.proc.kill("SIGHUP");
    await waitForLog("Reloaded the app in", 1);
    expect(await (await fetch(`${tray.url}/`, { headers: { connection: "close" } })).text()).toBe("fixed");
  });
});

describe("--max-requests", () => {
  test("Workers are replaced under load with no failed request", async () => {
    tray = await startTray(["--threads=2", "--max-requests=40", "--max-requests-jitter=10", "app.ts"], { cwd: dir });
    const result = await load(`${tray.url}/slow`, 6, 2_500);
    expect(result.failures).toEqual([]);
    expect(tray.stderr()).toContain("replaced (max-requests)");
  });
});

describe("--drain-delay", () => {
  test("after SIGTERM new connections are served for the delay, then tray exits 0", async () => {
    tray = await startTray(["--drain-delay=2", "app.ts"], { cwd: dir });
    const t = tray;
    const signalled = Date.now();
    t.proc.kill("SIGTERM");
    await Bun.sleep(1_000);
    const r = await fetch(`${t.url}/`, { headers: { connection: "close" } });
    expect(r.status).toBe(200);
    expect(t.stderr()).toContain("Received SIGTERM, draining: serving on for 2s (--drain-delay), then shutting down");
    const code = await t.exited;
    expect(code).toBe(0);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(2_000);
    expect(Date.now() - signalled).toBeLessThan(6_000);
  });
});
