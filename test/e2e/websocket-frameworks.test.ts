// WebSocket apps written for real frameworks, served unchanged by dist/tray from the fixture
// project's own node_modules (test/fixtures/e2e/frameworks, pinned hono and elysia): Hono's
// upgradeWebSocket from hono/bun, Elysia's .ws() exported as an app, and Elysia's .ws() in a
// module that only calls .listen(port) (Bun.serve captured: nothing binds that port), and
// hono/deno's upgradeWebSocket (Deno.upgradeWebSocket).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect as netConnect } from "node:net";
import type { Tray } from "./harness.ts";
import { INSTALL_TIMEOUT_MS, ensureFrameworks, startFrameworkTrays } from "./frameworks-helpers.ts";
import { connect } from "./websocket-helpers.ts";

const install = await ensureFrameworks();
if (!install.ok) console.warn(`websocket-frameworks.test.ts: SKIPPED - the frameworks could not be installed: ${install.reason}`);

const APPS = ["hono-ws.ts", "hono-deno-ws.ts", "elysia-ws.ts", "elysia-listen.ts"] as const;

describe.skipIf(!install.ok)("framework WebSocket apps", () => {
  const trays = new Map<string, Tray>();
  const url = (app: string, path: string) => `ws://127.0.0.1:${trays.get(app)!.port}${path}`;

  beforeAll(async () => {
    for (const [app, tray] of await startFrameworkTrays(APPS)) trays.set(app, tray);
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([...trays.values()].map((t) => t.stop()));
  });

  test("Hono (hono/bun upgradeWebSocket, export { fetch, websocket }): onOpen and onMessage, text and binary", async () => {
    const c = await connect(url("hono-ws.ts", "/ws"));
    c.ws.send("hi");
    c.ws.send(new Uint8Array([1, 2, 3, 4]));
    expect(await c.next(3)).toEqual(["hono:open", "hono:hi", "hono:binary:4"]);
    c.ws.close();
    expect(await (await fetch(`http://127.0.0.1:${trays.get("hono-ws.ts")!.port}/`)).text()).toBe("hono http");
  });

  test("Hono's hono/deno upgradeWebSocket (Deno.upgradeWebSocket, defined after the app loaded)", async () => {
    const c = await connect(url("hono-deno-ws.ts", "/ws"));
    c.ws.send("hi");
    expect(await c.next(2)).toEqual(["deno:open", "deno:hi"]);
    c.ws.close();
  });

  test("Elysia .ws() in an exported app that never called listen()", async () => {
    const c = await connect(url("elysia-ws.ts", "/ws"));
    c.ws.send("hi");
    expect(await c.next(2)).toEqual(["elysia:open", "elysia:hi"]);
    c.ws.close();
  });

  test("Elysia .ws() in a module that calls .listen(3999): served on tray's socket, port 3999 not bound", async () => {
    const c = await connect(url("elysia-listen.ts", "/ws"));
    c.ws.send("hi");
    expect(await c.next(1)).toEqual(["listen:hi"]);
    c.ws.close();
    expect(trays.get("elysia-listen.ts")!.stderr()).toContain("called Bun.serve() while loading");
    const bound = await new Promise<boolean>((resolve) => {
      const s = netConnect(3999, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    expect(bound).toBe(false);
  });
});
