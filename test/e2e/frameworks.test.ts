// Real framework apps served unchanged by dist/tray, each from the fixture project's own
// node_modules (test/fixtures/e2e/frameworks, installed by npm ci on first run): Hono (hono/jsx
// TSX page, getConnInfo from the bun and deno adapters), Elysia, itty-router, h3 and a plain
// `export default { fetch }`; then every app in examples/ with the same pinned frameworks.
// Skips, saying why, only when the frameworks cannot be installed (no npm registry).

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";
import { converse } from "./http-helpers.ts";
import { FRAMEWORKS_DIR, INSTALL_TIMEOUT_MS, ensureFrameworks, startFrameworkTrays } from "./frameworks-helpers.ts";

const install = await ensureFrameworks();
if (!install.ok) console.warn(`frameworks.test.ts: SKIPPED - the frameworks could not be installed: ${install.reason}`);
const ready = install.ok;

const APPS = ["hono.tsx", "elysia.ts", "itty.ts", "h3.ts", "plain.ts"] as const;
type AppName = (typeof APPS)[number];

/** GET over a fresh raw connection whose local port the test knows (the app must report it). */
async function getFromKnownPort(tray: Tray, path: string): Promise<{ localPort: number; status: number; body: string }> {
  const c = await converse(tray.port);
  try {
    c.send(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    const [r] = await c.waitForResponses(1);
    return { localPort: c.socket.localPort!, status: r.status, body: r.body };
  } finally {
    c.destroy();
  }
}

const postJson = (tray: Tray, path: string, value: unknown) =>
  fetch(`${tray.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

describe.skipIf(!ready)("framework apps from their own node_modules", () => {
  const trays = new Map<AppName, Tray>();
  const at = (app: AppName) => trays.get(app)!;

  beforeAll(async () => {
    for (const [app, tray] of await startFrameworkTrays(APPS)) trays.set(app, tray);
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all([...trays.values()].map((t) => t.stop()));
  });

  describe("Hono", () => {
    test("a hono/jsx TSX page renders as HTML (tsconfig jsxImportSource honoured)", async () => {
      const r = await fetch(`${at("hono.tsx").url}/`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/html; charset=UTF-8");
      expect(await r.text()).toBe("<html><body><h1>Hello, tray!</h1><ul><li>one</li><li>two</li></ul></body></html>");
    });

    test("route params and the query string reach the handler", async () => {
      const r = await fetch(`${at("hono.tsx").url}/users/42?q=a%20b`);
      expect(await r.json()).toEqual({ id: "42", q: "a b" });
    });

    test("a JSON request body is read with c.req.json() and answered with a status", async () => {
      const r = await postJson(at("hono.tsx"), "/json", { name: "tray", n: [1, 2] });
      expect(r.status).toBe(201);
      expect(await r.json()).toEqual({ got: { name: "tray", n: [1, 2] } });
    });

    test("getConnInfo from hono/bun reports the real client address and port (info.requestIP)", async () => {
      const r = await getFromKnownPort(at("hono.tsx"), "/conn/bun");
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ remote: { address: "127.0.0.1", addressType: "IPv4", port: r.localPort } });
    });

    test("getConnInfo from the hono/deno adapter reports the real client address and port (info.remoteAddr)", async () => {
      const r = await getFromKnownPort(at("hono.tsx"), "/conn/deno");
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ remote: { address: "127.0.0.1", port: r.localPort, transport: "tcp" } });
    });

    test("streamSSE from hono/streaming arrives as event-stream events, chunked", async () => {
      const r = await fetch(`${at("hono.tsx").url}/sse`);
      expect(r.headers.get("content-type")).toBe("text/event-stream");
      expect(r.headers.get("transfer-encoding")).toBe("chunked");
      const text = await r.text();
      expect(text).toBe([1, 2, 3].map((i) => `event: tick\ndata: hono ${i}\nid: ${i}\n\n`).join(""));
    });

    test("app.notFound answers an unknown path", async () => {
      const r = await fetch(`${at("hono.tsx").url}/nowhere`);
      expect(r.status).toBe(404);
      expect(await r.text()).toBe("no such page");
    });
  });

  describe("Elysia", () => {
    test("a string handler answers text/plain", async () => {
      const r = await fetch(`${at("elysia.ts").url}/`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("Hello from Elysia");
    });

    test("route params and query reach the handler, an object is answered as JSON", async () => {
      const r = await fetch(`${at("elysia.ts").url}/users/42?q=x`);
      expect(r.headers.get("content-type")).toStartWith("application/json");
      expect(await r.json()).toEqual({ id: "42", q: "x" });
    });

    test("a body validated by its t.Object schema is accepted, an invalid one gets 422", async () => {
      const good = await postJson(at("elysia.ts"), "/json", { name: "tray" });
      expect(good.status).toBe(200);
      expect(await good.json()).toEqual({ got: { name: "tray" } });
      const bad = await postJson(at("elysia.ts"), "/json", { nom: "tray" });
      expect(bad.status).toBe(422);
      await bad.arrayBuffer();
    });

    test("status() sets the response status", async () => {
      const r = await fetch(`${at("elysia.ts").url}/teapot`);
      expect(r.status).toBe(418);
      expect(await r.text()).toBe("short and stout");
    });
  });

  describe("itty-router", () => {
    test("AutoRouter formats a string as JSON", async () => {
      const r = await fetch(`${at("itty.ts").url}/`);
      expect(r.status).toBe(200);
      expect(await r.json()).toBe("Hello from itty-router");
    });

    test("route params, query and a JSON body reach the handler", async () => {
      expect(await (await fetch(`${at("itty.ts").url}/users/42?q=x`)).json()).toEqual({ id: "42", q: "x" });
      expect(await (await postJson(at("itty.ts"), "/json", { a: 1 })).json()).toEqual({ got: { a: 1 } });
    });

    test("error() and AutoRouter's 404 keep their statuses", async () => {
      const teapot = await fetch(`${at("itty.ts").url}/teapot`);
      expect(teapot.status).toBe(418);
      expect(await teapot.json()).toEqual({ status: 418, error: "short and stout" });
      const missing = await fetch(`${at("itty.ts").url}/nowhere`);
      expect(missing.status).toBe(404);
      await missing.arrayBuffer();
    });
  });

  describe("h3", () => {
    test("a string handler answers text", async () => {
      const r = await fetch(`${at("h3.ts").url}/`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("Hello from h3");
    });

    test("getRouterParam, getQuery and readBody see the request", async () => {
      expect(await (await fetch(`${at("h3.ts").url}/users/42?q=x`)).json()).toEqual({ id: "42", q: "x" });
      expect(await (await postJson(at("h3.ts"), "/json", { a: [1] })).json()).toEqual({ got: { a: [1] } });
    });

    test("a thrown HTTPError becomes its status with a JSON body", async () => {
      const r = await fetch(`${at("h3.ts").url}/teapot`);
      expect(r.status).toBe(418);
      expect(await r.json()).toMatchObject({ status: 418, message: "short and stout" });
    });
  });

  describe("plain export default { fetch }", () => {
    test("fetch is called with the request", async () => {
      const r = await fetch(`${at("plain.ts").url}/a/b?c=d`);
      expect(await r.text()).toBe("Hello from a plain fetch object: GET /a/b?c=d");
    });

    test("info.remoteAddr is the client's address", async () => {
      const r = await fetch(`${at("plain.ts").url}/json`);
      expect(await r.json()).toEqual({ path: "/json", from: "127.0.0.1" });
    });
  });
});

// examples/: each framework example, copied to a temp directory whose node_modules points at the
// fixture project's, answers its documented request (so the examples cannot rot unnoticed).
const EXAMPLES_DIR = join(ROOT, "examples");
const EXAMPLES: { dir: string; app: string; path: string; body: (text: string) => void }[] = [
  { dir: "hono", app: "app.tsx", path: "/", body: (t) => expect(t).toBe("<html><body><h1>Hello from Hono on tray</h1><p>Your address: 127.0.0.1</p></body></html>") },
  { dir: "elysia", app: "app.ts", path: "/api/hello/you", body: (t) => expect(JSON.parse(t)).toEqual({ hello: "you" }) },
  { dir: "itty-router", app: "app.ts", path: "/api/hello/you", body: (t) => expect(JSON.parse(t)).toEqual({ hello: "you" }) },
  { dir: "h3", app: "app.ts", path: "/api/hello/you", body: (t) => expect(JSON.parse(t)).toEqual({ hello: "you" }) },
];

describe.skipIf(!ready)("examples/ with their frameworks", () => {
  const fixtureVersions = (JSON.parse(readFileSync(join(FRAMEWORKS_DIR, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
  let temp: string;

  beforeAll(() => {
    temp = mkdtempSync(join(tmpdir(), "tray-examples-"));
  });
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  for (const example of EXAMPLES) {
    test(`examples/${example.dir} pins the framework versions the tests use, and serves ${example.path}`, async () => {
      const source = join(EXAMPLES_DIR, example.dir);
      const deps = (JSON.parse(readFileSync(join(source, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
      for (const [name, version] of Object.entries(deps)) expect(`${name}@${version}`).toBe(`${name}@${fixtureVersions[name]}`);
      const dir = join(temp, example.dir);
      cpSync(source, dir, { recursive: true, filter: (path) => !path.includes("node_modules") });
      symlinkSync(join(FRAMEWORKS_DIR, "node_modules"), join(dir, "node_modules"));
      expect(readdirSync(dir)).toContain(example.app);
      const tray = await startTray(["--threads=1", example.app], { cwd: dir, timeoutMs: 60_000 });
      try {
        const r = await fetch(`${tray.url}${example.path}`);
        expect(r.status).toBe(200);
        example.body(await r.text());
      } finally {
        await tray.stop();
      }
    });
  }
});
