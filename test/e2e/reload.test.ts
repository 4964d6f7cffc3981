// --reload through dist/tray: a temp copy of test/fixtures/e2e/frameworks/reload is served, its
// lib/message.ts edited, and the new code must answer without the listener or the connections
// going away: a keep-alive connection opened before the reload still works, a request running
// across the reload finishes on the code it started on, a broken edit keeps the old code serving,
// and changes under node_modules or dot-files reload nothing.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse } from "./http-helpers.ts";
import type { Conversation } from "./http-helpers.ts";
import { FRAMEWORKS_DIR } from "./frameworks-helpers.ts";

/** Long enough for a debounced reload on a loaded 2-core machine; polls end much sooner. */
const RELOAD_WAIT_MS = 20_000;

const setMessage = (dir: string, text: string) => writeFileSync(join(dir, "lib", "message.ts"), `export const message = ${JSON.stringify(text)};\n`);

const count = (text: string, what: string) => text.split(what).length - 1;

async function body(tray: Tray, path = "/"): Promise<string> {
  const r = await fetch(`${tray.url}${path}`, { headers: { connection: "close" } });
  return r.text();
}

/** Polls with fresh connections until the app answers `expected` (bounded). */
async function waitForBody(tray: Tray, expected: string): Promise<void> {
  const deadline = Date.now() + RELOAD_WAIT_MS;
  let last = "";
  while (Date.now() < deadline) {
    last = await body(tray);
    if (last === expected) return;
    await Bun.sleep(50);
  }
  throw new Error(`the app still answers ${JSON.stringify(last)}, not ${JSON.stringify(expected)}; stderr:\n${tray.stderr()}`);
}

async function waitForLog(tray: Tray, what: string, n: number): Promise<void> {
  const deadline = Date.now() + RELOAD_WAIT_MS;
  while (count(tray.stderr(), what) < n) {
    if (Date.now() > deadline) throw new Error(`expected ${n} x ${JSON.stringify(what)} in stderr:\n${tray.stderr()}`);
    await Bun.sleep(20);
  }
}

/** Sends a GET on an open keep-alive connection and returns the body of the next response. */
async function getOn(c: Conversation, path: string, responsesBefore: number): Promise<string> {
  c.send(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
  const responses = await c.waitForResponses(responsesBefore + 1, RELOAD_WAIT_MS);
  return responses[responsesBefore].body;
}

describe("--reload", () => {
  let dir: string;
  let tray: Tray;

  beforeAll(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), "tray-reload-")));
    cpSync(join(FRAMEWORKS_DIR, "reload"), dir, { recursive: true });
    setMessage(dir, "version 1");
    tray = await startTray(["--reload", "--threads=2", "app.ts"], { cwd: dir });
  });

  afterAll(async () => {
    await tray?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("says what it watches", async () => {
    // Logged just after "Serving on", which is all startTray waits for: it may be a pipe read later.
    const line = `Reloading on changes under ${dir}\n`;
    for (const deadline = Date.now() + 5000; !tray.stderr().includes(line) && Date.now() < deadline; ) await Bun.sleep(20);
    expect(tray.stderr()).toContain(line);
  });

  test("an edit is served by fresh Workers; a keep-alive connection from before keeps working; a running request finishes on the old code", async () => {
    const keepAlive = await converse(tray.port);
    const running = await converse(tray.port);
    try {
      expect(await getOn(keepAlive, "/", 0)).toBe("version 1");
      // Started before the edit, answered after the reload: it began on version 1.
      running.send("GET /slow?ms=3000 HTTP/1.1\r\nHost: test\r\n\r\n");
      await Bun.sleep(300);

      setMessage(dir, "version 2");
      await waitForBody(tray, "version 2");
      expect(tray.stderr()).toContain("Reloading: lib/message.ts changed\n");
      expect(tray.stderr()).toMatch(/Reloaded the app in \d+ ms\n/);

      // The same socket, opened before the reload, now reaches the new code.
      expect(keepAlive.closed()).toBe(false);
      expect(await getOn(keepAlive, "/", 1)).toBe("version 2");
      const [slow] = await running.waitForResponses(1, RELOAD_WAIT_MS);
      expect(slow.status).toBe(200);
      expect(slow.body).toBe("slow version 1");
      expect(running.closed()).toBe(false);
      expect(await getOn(running, "/", 1)).toBe("version 2");
    } finally {
      keepAlive.destroy();
      running.destroy();
    }
    // The listener was never reopened.
    expect(count(tray.stderr(), "Serving on ")).toBe(1);
  });

  test("a large response streaming when the reload happens keeps its flow control and completes on the old code", async () => {
    const current = await body(tray);
    const c = await converse(tray.port);
    try {
      c.send("GET /big?mib=64 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
      await c.waitFor((t) => t.length > 1024 * 1024, RELOAD_WAIT_MS);
      // Stop reading: the app is held at the high watermark and needs acks to go on.
      c.socket.pause();
      setMessage(dir, `${current} (edited)`);
      await waitForBody(tray, `${current} (edited)`);
      c.socket.resume();
      expect(await c.waitForClose(60_000)).toBe(true);
      expect(c.text().endsWith(`|${current}\r\n0\r\n\r\n`)).toBe(true);
    } finally {
      c.destroy();
    }
    setMessage(dir, current);
    await waitForBody(tray, current);
  }, 120_000);

  test("an edit that does not load is logged, and the previous code keeps serving until the next edit", async () => {
    await waitForBody(tray, "version 2");
    const failuresBefore = count(tray.stderr(), "Reload failed");
    writeFileSync(join(dir, "lib", "message.ts"), "export const message = ;\n");
    await waitForLog(tray, "Reload failed", failuresBefore + 1);
    expect(tray.stderr()).toMatch(/Reload failed, the previous code keeps serving: .*message\.ts/);
    expect(await body(tray)).toBe("version 2");
    setMessage(dir, "version 3");
    await waitForBody(tray, "version 3");
  });

  test("changes under node_modules and dot-files do not reload", async () => {
    await waitForBody(tray, "version 3");
    await Bun.sleep(500); // let the last reload's events settle
    const reloadsBefore = count(tray.stderr(), "Reloading: ");
    mkdirSync(join(dir, "node_modules", "dep"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "dep", "index.js"), "export const x = 1;\n");
    writeFileSync(join(dir, ".env"), "X=1\n");
    mkdirSync(join(dir, ".cache"), { recursive: true });
    writeFileSync(join(dir, ".cache", "state"), "1\n");
    await Bun.sleep(1500);
    expect(count(tray.stderr(), "Reloading: ")).toBe(reloadsBefore);
  });

  test("a file in a directory created after start-up is watched too", async () => {
    await waitForBody(tray, "version 3");
    mkdirSync(join(dir, "later"), { recursive: true });
    await Bun.sleep(300);
    writeFileSync(join(dir, "later", "message.ts"), `export const message = "version 4";\n`);
    writeFileSync(join(dir, "lib", "message.ts"), `export { message } from "../later/message.ts";\n`);
    await waitForBody(tray, "version 4");
    writeFileSync(join(dir, "later", "message.ts"), `export const message = "version 5";\n`);
    await waitForBody(tray, "version 5");
  });
});

describe("without --reload", () => {
  test("an edit changes nothing (the default keeps Waitress's behaviour)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tray-no-reload-"));
    cpSync(join(FRAMEWORKS_DIR, "reload"), dir, { recursive: true });
    setMessage(dir, "first");
    const tray = await startTray(["--threads=1", "app.ts"], { cwd: dir });
    try {
      expect(await body(tray)).toBe("first");
      setMessage(dir, "second");
      await Bun.sleep(1000);
      expect(await body(tray)).toBe("first");
      expect(tray.stderr()).not.toContain("Reload");
    } finally {
      await tray.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
