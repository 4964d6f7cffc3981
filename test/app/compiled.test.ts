// The loader where it really runs: inside a Worker of a `bun build --compile` binary built with
// tray's own flags (scripts/build.ts), started with an empty environment (env -i) from each
// fixture's directory. Guards what only the compiled binary shows: bare packages from the cwd's
// node_modules, tsconfig "paths" (needs --compile-autoload-tsconfig), and tsconfig JSX options
// (ignored by the compiled transpiler; restored by src/app/jsx.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { COMPILE_FLAGS } from "../../scripts/build.ts";

const APPS = join(import.meta.dir, "..", "fixtures", "apps");
const BASIC = join(APPS, "basic");
const HARNESS = join(import.meta.dir, "harness");

let dir = "";
let binary = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tray-loader-"));
  binary = join(dir, "harness");
  const build = Bun.spawn(
    [process.execPath, "build", ...COMPILE_FLAGS, join(HARNESS, "main.ts"), join(HARNESS, "worker.ts"), "--outfile", binary],
    { stdout: "pipe", stderr: "pipe" },
  );
  if ((await build.exited) !== 0) throw new Error(`harness build failed: ${await new Response(build.stderr).text()}`);
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** Runs the compiled harness with an empty environment; returns its one output line. */
async function harness(cwd: string, ...args: string[]): Promise<string> {
  const run = Bun.spawn([binary, ...args], { cwd, env: {}, stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text()]);
  await run.exited;
  expect(err).toBe("");
  return out.trim();
}

describe("compiled binary, env -i", () => {
  test("a .ts file relative to the cwd", async () => {
    expect(await harness(BASIC, "hello.ts")).toBe("OK 200 hello.ts /path");
  });

  test("a path from another cwd, and an absolute path", async () => {
    expect(await harness(APPS, "basic/hello")).toBe("OK 200 hello.ts /path");
    expect(await harness(join(BASIC, "src"), "../uses-dep.ts")).toBe("OK 200 uses-dep.ts via tiny-dep /path");
    expect(await harness("/", join(BASIC, "hello.mjs"))).toBe("OK 200 hello.mjs");
  });

  test("a bare package and a scoped CommonJS package from the cwd's node_modules", async () => {
    expect(await harness(BASIC, "tiny-app")).toBe("OK 200 tiny-app");
    expect(await harness(BASIC, "tiny-app/admin:admin")).toBe("OK 200 tiny-app/admin");
    expect(await harness(BASIC, "@tiny/scoped")).toBe("OK 200 @tiny/scoped");
  });

  test("an app importing its own node_modules package", async () => {
    expect(await harness(BASIC, "uses-dep.ts")).toBe("OK 200 uses-dep.ts via tiny-dep /path");
  });

  test("CommonJS, a directory with package.json exports, a dotted method", async () => {
    expect(await harness(BASIC, "methods.cjs:fetch")).toBe("OK 200 methods.cjs fetch");
    expect(await harness(BASIC, "dir-exports")).toBe("OK 200 dir-exports/esm.mjs");
    expect(await harness(BASIC, "named.ts:api.v1.handler")).toBe("OK 200 api.v1.handler");
  });

  test("--call with an async factory", async () => {
    expect(await harness(BASIC, "--call", "factory.ts:createAsync")).toBe("OK 200 made by createAsync");
  });

  test('.tsx with tsconfig jsxImportSource and "paths", from its own dir and from elsewhere', async () => {
    expect(await harness(join(APPS, "jsx-tsconfig"), "app.tsx")).toBe("OK 200 <p>hello from app.tsx</p>");
    expect(await harness("/", join(APPS, "jsx-tsconfig", "app.tsx"))).toBe("OK 200 <p>hello from app.tsx</p>");
  });

  test("JSX via tsconfig extends, classic factory, and pragma", async () => {
    expect(await harness(join(APPS, "jsx-extends"), "app.tsx")).toBe("OK 200 <i>extends</i>");
    expect(await harness(join(APPS, "jsx-classic"), "app.tsx")).toBe("OK 200 <em>classic</em>");
    expect(await harness(join(APPS, "jsx-pragma"), "app.tsx")).toBe("OK 200 <s>pragma</s>");
  });

  test("failures keep their one-line messages", async () => {
    expect(await harness(BASIC, "broken/syntax.ts")).toBe(
      'ERR AppLoadError: "broken/syntax.ts" failed to load: syntax error at ./broken/syntax.ts:3:23: Unexpected ;',
    );
    expect(await harness(BASIC, "broken/throws-in-dep.ts")).toBe(
      'ERR AppLoadError: "broken/throws-in-dep.ts" failed to load: it threw TypeError: connect ECONNREFUSED 127.0.0.1:5432 (at ./broken/lib/throws-lib.ts:2:13)',
    );
    expect(await harness(BASIC, "named.ts:ap")).toStartWith('ERR AppLoadError: "named.ts" has no export "ap"; it exports: Server, api, app,');
  });

  test("a package the app imports is not auto-installed", async () => {
    expect(await harness(BASIC, "broken/missing-package.ts")).toBe(
      'ERR AppLoadError: "broken/missing-package.ts" failed to load: cannot find "tray-fixture-missing-package" imported from ./broken/missing-package.ts (is it installed in node_modules?)',
    );
  });
});
