// reload.ts: which paths --reload ignores, which directory it watches, and the debounced watcher
// (one callback per burst of changes, new directories included). The e2e side, with real
// Workers, is test/e2e/reload.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RELOAD_DEBOUNCE_MS, appDirectory, isIgnored, watchDirectory } from "../../src/server/reload.ts";

describe("isIgnored", () => {
  const CASES: [string, boolean][] = [
    ["app.ts", false],
    ["src/routes/users.ts", false],
    ["node_modules/hono/index.js", true],
    ["packages/api/node_modules/x.js", true],
    [".git/index", true],
    [".env", true],
    ["src/.app.ts.swp", true],
    ["public/app.js", false],
  ];
  for (const [path, ignored] of CASES) test(`${path} -> ${ignored}`, () => expect(isIgnored(path)).toBe(ignored));
});

describe("appDirectory", () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "tray-reload-dir-")));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "src"));
  writeFileSync(join(root, "src", "server.ts"), "export default () => new Response();\n");
  mkdirSync(join(root, "node_modules", "pkg"), { recursive: true });
  writeFileSync(join(root, "node_modules", "pkg", "package.json"), JSON.stringify({ name: "pkg", main: "index.js" }));
  writeFileSync(join(root, "node_modules", "pkg", "index.js"), "export default () => new Response();\n");

  test("is the MODULE file's directory", () => {
    expect(appDirectory({ module: "src/server.ts", object: "default", call: false, cwd: root })).toBe(join(root, "src"));
  });

  test("is the current directory for a package from node_modules", () => {
    expect(appDirectory({ module: "pkg", object: "default", call: false, cwd: root })).toBe(root);
  });
});

describe("watchDirectory", () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "tray-reload-watch-")));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "lib"));
  mkdirSync(join(root, "node_modules"));

  const calls: string[][] = [];
  const ignoredFile = join(root, "access.log");
  const watcher = watchDirectory(root, new Set([ignoredFile]), (files) => calls.push(files.sort()), () => {});
  afterAll(() => watcher.close());

  const settle = () => Bun.sleep(RELOAD_DEBOUNCE_MS * 4 + 200);

  test("a burst of changes is one callback naming each changed path once", async () => {
    writeFileSync(join(root, "app.ts"), "1");
    writeFileSync(join(root, "lib", "a.ts"), "1");
    writeFileSync(join(root, "lib", "a.ts"), "2");
    await settle();
    expect(calls).toEqual([["app.ts", "lib/a.ts"]]);
  });

  test("node_modules, dot-files and the ignored paths cause no callback", async () => {
    calls.length = 0;
    writeFileSync(join(root, "node_modules", "x.js"), "1");
    writeFileSync(join(root, ".env"), "1");
    writeFileSync(ignoredFile, "line\n");
    await settle();
    expect(calls).toEqual([]);
  });

  test("a directory created after the watch started is watched", async () => {
    calls.length = 0;
    mkdirSync(join(root, "routes"));
    await settle();
    calls.length = 0;
    writeFileSync(join(root, "routes", "users.ts"), "1");
    await settle();
    expect(calls).toEqual([["routes/users.ts"]]);
  });
});
