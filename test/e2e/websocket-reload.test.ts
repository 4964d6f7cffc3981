// A reload (SIGHUP, as --reload's) keeps existing WebSockets on the old code until they close
// (issue 14): fresh Workers serve new connections, the old Worker stays for the sockets it holds.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTray, type Tray } from "./harness.ts";
import { connect } from "./websocket-helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "tray-ws-reload-"));
let tray: Tray | null = null;

afterAll(async () => {
  await tray?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function app(version: string): string {
  return `export default {
  fetch(request, server) { return server.upgrade(request) ? undefined : new Response("${version}"); },
  websocket: { message(ws, m) { ws.send("${version}:" + m); } },
};
`;
}

test("after SIGHUP an open WebSocket still answers from the old code; a new one gets the new code", async () => {
  writeFileSync(join(dir, "app.mjs"), app("v1"));
  tray = await startTray(["app.mjs"], { cwd: dir });
  const before = await connect(`ws://127.0.0.1:${tray.port}/`);
  before.ws.send("a");
  expect((await before.next(1))[0]).toBe("v1:a");
  writeFileSync(join(dir, "app.mjs"), app("v2"));
  tray.proc.kill("SIGHUP");
  const deadline = Date.now() + 10_000;
  while (!/Reloaded the app/.test(tray.stderr()) && Date.now() < deadline) await Bun.sleep(20);
  expect(tray.stderr()).toMatch(/Reloaded the app/);
  const after = await connect(`ws://127.0.0.1:${tray.port}/`);
  after.ws.send("b");
  expect((await after.next(1))[0]).toBe("v2:b");
  before.ws.send("c");
  expect((await before.next(2))[1]).toBe("v1:c");
  before.ws.close();
  after.ws.close();
});
