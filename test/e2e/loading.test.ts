// MODULE[:OBJECT] through the built binary (DESIGN.md §1): every supported form is served, every
// loading failure is one line naming the module, a non-zero exit, and nothing left listening.
// The single binary also runs with an empty environment, from a directory far from the repo.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { ROOT, TRAY, runTray, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

const BASIC = join(ROOT, "test", "fixtures", "apps", "basic");
const JSX = join(ROOT, "test", "fixtures", "apps", "jsx-tsconfig");

const running: Tray[] = [];
afterAll(async () => {
  await Promise.all(running.map((t) => t.stop()));
});

async function served(args: string[], cwd: string, path = "/path"): Promise<string> {
  const tray = await startTray(["--threads=1", ...args], { cwd });
  running.push(tray);
  try {
    const response = await fetch(tray.url + path);
    expect(response.status).toBe(200);
    return await response.text();
  } finally {
    await tray.stop();
  }
}

describe("each module form is served by dist/tray", () => {
  const forms: [string[], string][] = [
    [["hello.ts"], "hello.ts /path"],
    [["./hello"], "hello.ts /path"],
    [["hello.mjs"], "hello.mjs"],
    [["hello.cjs"], "hello.cjs"],
    [["hello.jsx"], "hello.jsx"],
    [["handler.cjs"], "handler.cjs"],
    [["methods.cjs:fetch"], "methods.cjs fetch"],
    [["named.ts:app"], "named.ts app"],
    [["named.ts:app.fetch"], "named.ts app"],
    [["named.ts:api.v1.handler"], "api.v1.handler"],
    [["--app=named.ts:plain"], "named.ts plain"],
    [["router.ts"], "router.ts /path"],
    [["uses-dep.ts"], "uses-dep.ts via tiny-dep /path"],
    [["src/server"], "src/server.js"],
    [["dir-main"], "dir-main/lib/start.js"],
    [["tiny-app"], "tiny-app"],
    [["@tiny/scoped"], "@tiny/scoped"],
    [["--call", "factory.ts:createAsync"], "made by createAsync"],
  ];
  for (const [args, body] of forms) {
    test(`tray ${args.join(" ")} -> "${body}"`, async () => {
      expect(await served(args, BASIC)).toContain(body);
    });
  }

  test("a .tsx app using tsconfig jsxImportSource and paths", async () => {
    const body = await served(["app.tsx"], JSX, "/");
    expect(body.length).toBeGreaterThan(0);
  });
});

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

describe("a module that cannot be served: one line naming it, exit non-zero, nothing listening", () => {
  const failures: [string[], RegExp][] = [
    [["./nope.ts"], /cannot find module "\.\/nope\.ts"/],
    [["broken/syntax.ts"], /"broken\/syntax\.ts" failed to load: syntax error at/],
    [["broken/missing-package.ts"], /broken\/missing-package\.ts/],
    [["broken/throws.ts"], /broken\/throws\.ts/],
    [["named.ts"], /"named\.ts" has no export "default"|named\.ts.*default/],
    [["named.ts:ap"], /"named\.ts" has no export "ap"; it exports: .*app/],
    [["named.ts:config"], /"named\.ts" export "config" is an object with no fetch method/],
    [["--call", "factory.ts:explodes"], /factory\.ts/],
    [["empty.ts"], /empty\.ts/],
  ];
  for (const [args, message] of failures) {
    test(`tray ${args.join(" ")}`, async () => {
      const port = 20000 + Math.floor(Math.random() * 10000);
      const { code, stdout, stderr } = await runTray(["--host=127.0.0.1", `--port=${port}`, "--threads=1", ...args], { cwd: BASIC });
      expect(code).not.toBe(0);
      expect(stdout).toBe("");
      const lines = stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toStartWith("tray: ");
      expect(lines[0]).toMatch(message);
      expect(stderr).not.toContain("Serving on");
      expect(await listening(port)).toBe(false);
    });
  }
});

describe("the single binary", () => {
  const scratch = mkdtempSync(join(tmpdir(), "tray-single-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  test("runs with an empty environment, copied away from the repo, serving an app from another directory", async () => {
    const bin = join(scratch, "bin");
    const site = join(scratch, "site");
    cpSync(join(ROOT, "examples"), site, { recursive: true });
    require("node:fs").mkdirSync(bin);
    copyFileSync(TRAY, join(bin, "tray"));
    require("node:fs").chmodSync(join(bin, "tray"), 0o755);
    const proc = Bun.spawn([join(bin, "tray"), "--host=127.0.0.1", "--port=0", "--threads=1", "hello.ts"], {
      cwd: site,
      env: {},
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const reader = proc.stderr.getReader();
      let err = "";
      const deadline = Date.now() + 20000;
      let port = 0;
      while (port === 0 && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        err += new TextDecoder().decode(value);
        const m = /Serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
        if (m) port = Number(m[1]);
      }
      expect(port).toBeGreaterThan(0);
      const response = await fetch(`http://127.0.0.1:${port}/from-nowhere`);
      expect(await response.text()).toBe("Hello from tray! You asked for /from-nowhere\n");
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
  });
});
