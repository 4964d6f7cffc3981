// --interface=auto|fetch|node through dist/tray: each detection rule (src/app/detect.ts), the one
// line auto logs about its choice, and the message for each way detection can fail.
// The apps are small files in test/fixtures/e2e/node/detect; none needs an npm package.
import { afterAll, describe, expect, test } from "bun:test";
import { freePort, runTray, startTray, type Tray } from "./harness.ts";
import { NODE_DIR, portOpen, trayEnv } from "./node-apps-helpers.ts";

const started: Tray[] = [];
afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
});

async function serve(args: string[], env: Record<string, string> = {}): Promise<Tray> {
  const tray = await startTray(["--threads=1", ...args], { cwd: NODE_DIR, env: trayEnv(env) });
  started.push(tray);
  return tray;
}

/** The line auto logged about its choice ("" when it logged none). */
function choice(tray: Tray): string {
  return tray.stderr().split("\n").find((l) => l.startsWith("--interface=auto: ")) ?? "";
}

/** Runs tray on an app that must fail to load: exit 1, one "tray: ..." line, and no "Serving on". */
async function loadFailure(args: string[]): Promise<string> {
  const r = await runTray(["--host=127.0.0.1", "--port=0", "--threads=1", ...args], { cwd: NODE_DIR, env: trayEnv() });
  expect(r.stderr).not.toContain("Serving on");
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("tray: ");
  return lines[0].slice("tray: ".length);
}

describe("auto: each rule", () => {
  test("1. an object with a fetch method is a fetch app", async () => {
    const tray = await serve(["detect/fetch-object.mjs"]);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("fetch object");
    expect(choice(tray)).toBe(`--interface=auto: "detect/fetch-object.mjs" export "default" is an object with a fetch method, so it is served as a fetch app`);
  });

  test("2. an http.Server is served through its 'request' listener, even one added after createServer()", async () => {
    const tray = await serve(["detect/server.mjs"]);
    expect(await (await fetch(`${tray.url}/x?y=1`)).text()).toBe("server listener saw GET /x?y=1");
    expect(choice(tray)).toBe(`--interface=auto: "detect/server.mjs" export "default" is an http.Server, so it is served as a Node-style (req, res) app`);
  });

  test("3. an object with callback and use methods is served through callback()", async () => {
    const tray = await serve(["detect/koa-like.mjs"]);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("callback() listener");
    expect(choice(tray)).toContain("is a Koa app (it has callback and use methods), called through app.callback(), so it is served as a Node-style (req, res) app");
  });

  test("4. a function whose second parameter is named like a response is Node-style", async () => {
    const tray = await serve(["detect/req-res.mjs"]);
    expect(await (await fetch(`${tray.url}/p?q`)).text()).toBe("req-res saw /p?q");
    expect(choice(tray)).toBe(`--interface=auto: "detect/req-res.mjs" export "default" is a function (req, res), so it is served as a Node-style (req, res) app; --interface=fetch serves it as (request, info) => Response`);
  });

  test("4. a function that hides its parameter names but declares three is Node-style (req, res, next)", async () => {
    const tray = await serve(["detect/bound.mjs"]);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("bound three-parameter handler");
    expect(choice(tray)).toContain(`"detect/bound.mjs" export "default" is a function, so it is served as a Node-style (req, res) app`);
  });

  test("4. any other function is a fetch handler (DESIGN.md §1), and the log says how to force node", async () => {
    const tray = await serve(["detect/fetch-function.mjs"]);
    expect(await (await fetch(`${tray.url}/here`)).text()).toBe("fetch function saw /here from 127.0.0.1");
    expect(choice(tray)).toBe(
      `--interface=auto: "detect/fetch-function.mjs" export "default" is a function (request, info), so it is served as a fetch handler (request, info) => Response; if it takes (req, res), start tray with --interface=node`,
    );
  });

  for (const module of ["detect/listen-only.mjs", "detect/listen-only-cjs.cjs"]) {
    test(`5. no usable export, but listen() while loading: that server is served, its port never bound (${module})`, async () => {
      const appPort = await freePort();
      const tray = await serve([module], { APP_PORT: String(appPort) });
      expect(await (await fetch(`${tray.url}/via-tray`)).text()).toBe("listened server saw /via-tray");
      expect(await portOpen(appPort)).toBe(false);
      expect(tray.stdout()).toContain("the app's listen callback ran");
      expect(tray.stderr()).toContain(`but it called listen() while loading: serving that server on tray's sockets (its port ${appPort} is not bound)`);
    });
  }

  test("--call: what the factory returns is detected the same way (a (req, res) function, an async http.Server)", async () => {
    const handler = await serve(["--call", "detect/factory.mjs:makeHandler"]);
    expect(await (await fetch(`${handler.url}/f`)).text()).toBe("made by a factory, saw /f");
    expect(choice(handler)).toBe(`--interface=auto: "detect/factory.mjs" export "makeHandler" called by --call returned a function (req, res), so it is served as a Node-style (req, res) app; --interface=fetch serves it as (request, info) => Response`);
    const server = await serve(["--call", "detect/factory.mjs:makeServer"]);
    expect(await (await fetch(`${server.url}/`)).text()).toBe("an http.Server from an async factory");
  });

  test("an export and a listen(): the export is served, the listen binds nothing, and the log says so", async () => {
    const appPort = await freePort();
    const tray = await serve(["detect/listen-after-export.mjs"], { APP_PORT: String(appPort) });
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("exported handler");
    expect(await portOpen(appPort)).toBe(false);
    expect(choice(tray)).toContain(`the listen() it called while loading (port ${appPort}) bound nothing: the app is served on tray's sockets`);
  });
});

describe("--interface=node and --interface=fetch choose without guessing", () => {
  test("node: a function is (req, res) whatever its parameters are called, and nothing is logged about it", async () => {
    const tray = await serve(["--interface=node", "detect/bound.mjs"]);
    expect(await (await fetch(`${tray.url}/`)).text()).toBe("bound three-parameter handler");
    expect(choice(tray)).toBe("");
  });

  test("fetch: a (req, res) function is called as (request, info), and fails as a fetch handler would", async () => {
    const tray = await serve(["--interface=fetch", "detect/req-res.mjs"]);
    const r = await fetch(`${tray.url}/`);
    expect(r.status).toBe(500);
    expect((await r.text()).trim()).toBe("Internal Server Error");
    expect(tray.stderr()).toContain('error while serving "GET / HTTP/1.1"');
  });

  test("a Node-style handler that returns a Response gets a 500 and a line saying to use --interface=fetch", async () => {
    const tray = await serve(["detect/returns-response.mjs"]);
    const r = await fetch(`${tray.url}/`);
    expect(r.status).toBe(500);
    expect((await r.text()).trim()).toBe("Internal Server Error");
    const line = tray.stderr().split("\n").find((l) => l.startsWith('error while serving "GET / HTTP/1.1"'));
    expect(line).toBe(
      'error while serving "GET / HTTP/1.1": the app returned a Response instead of writing to res: it is a fetch handler (request, info) => Response; start tray with --interface=fetch',
    );
  });
});

describe("what is wrong, in one line, before anything listens", () => {
  test("auto: a value that is no kind of app, and no listen()", async () => {
    expect(await loadFailure(["detect/not-an-app.mjs"])).toBe(
      `"detect/not-an-app.mjs" export "default" is an object with no fetch method (it has: port, name), not a fetch app (a function, or an object with a fetch method) or a Node-style app (an http.Server, a Koa app); if the module starts its own server, it must call listen() while it loads`,
    );
  });

  test("--call: a factory that returns no kind of app", async () => {
    expect(await loadFailure(["--call", "detect/factory.mjs:makeNothing"])).toBe(
      `"detect/factory.mjs" export "makeNothing" called by --call returned an object with no fetch method (it has: port), not a fetch app (a function, or an object with a fetch method) or a Node-style app (an http.Server, a Koa app); if the module starts its own server, it must call listen() while it loads`,
    );
  });

  test("node: a fetch app", async () => {
    expect(await loadFailure(["--interface=node", "detect/fetch-object.mjs"])).toBe(
      `"detect/fetch-object.mjs" export "default" is an object with a fetch method: that is a fetch app; serve it with --interface=fetch (or auto)`,
    );
  });

  test("node: a value that is no kind of app", async () => {
    expect(await loadFailure(["--interface=node", "detect/not-an-app.mjs"])).toContain("not a Node-style app (a (req, res) function, an http.Server, a Koa app)");
  });

  test("no export, and listen() on two servers", async () => {
    const message = await loadFailure(["detect/two-listens.cjs"]);
    expect(message).toStartWith(`"detect/two-listens.cjs" export "default" is an object with no fetch method, and it called listen() on 2 servers while loading (port `);
    expect(message).toEndWith("); export the one to serve, or name it as detect/two-listens.cjs:NAME");
  });

  test("an http.Server with no 'request' listener", async () => {
    expect(await loadFailure(["detect/no-listener.mjs"])).toBe(
      `"detect/no-listener.mjs" export "default" is an http.Server with no 'request' listener; create it with http.createServer(handler), or add one with server.on("request", handler)`,
    );
  });

  test("a Koa-shaped app whose callback() throws", async () => {
    expect(await loadFailure(["detect/callback-throws.mjs"])).toBe(
      `"detect/callback-throws.mjs" export "default" is what looks like a Koa app, but its callback() threw: Error: no middleware configured (at ./detect/callback-throws.mjs:5:15)`,
    );
  });

  test("a missing export with no listen() keeps the loader's message", async () => {
    expect(await loadFailure(["detect/req-res.mjs:handler"])).toBe(`"detect/req-res.mjs" has no export "handler"; it exports: default (serve the default export as detect/req-res.mjs)`);
  });
});
