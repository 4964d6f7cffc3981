// loadApp: every MODULE form, OBJECT path, --call, and every failure's one-line message (DESIGN.md §1).
// Fixtures live in test/fixtures/apps/ (see its README.md); each app's body names the file and object
// that answered, so a test sees exactly what was served.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AppLoadError, loadApp, parseAppSpec } from "../../src/app/loader.ts";
import type { ServeInfo } from "../../src/app/types.ts";

const APPS = join(import.meta.dir, "..", "fixtures", "apps");
const BASIC = join(APPS, "basic");

const INFO: ServeInfo = {
  remoteAddr: { hostname: "127.0.0.1", port: 50000, transport: "tcp" },
  requestIP: () => ({ address: "127.0.0.1", family: "IPv4", port: 50000 }),
  scriptName: "/prefix",
};

interface Options {
  cwd?: string;
  call?: boolean;
}

/** Loads MODULE[:OBJECT] and returns the body of one GET /path. */
async function body(text: string, { cwd = BASIC, call = false }: Options = {}): Promise<string> {
  const handler = await loadApp(parseAppSpec(text, cwd, call));
  const response = await handler(new Request("http://tray.test/path"), INFO);
  expect(response).toBeInstanceOf(Response);
  return await response.text();
}

/** Loads MODULE[:OBJECT], expecting an AppLoadError; returns its message, checked to be one line. */
async function failure(text: string, { cwd = BASIC, call = false }: Options = {}): Promise<string> {
  try {
    await loadApp(parseAppSpec(text, cwd, call));
  } catch (error) {
    expect(error).toBeInstanceOf(AppLoadError);
    const message = (error as Error).message;
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error(`${text} loaded, but a failure was expected`);
}

const EXTS = "{ts,tsx,mts,js,mjs,cjs,jsx}";
const BASIC_LISTING =
  "counted.cjs, counted.mjs, empty.ts, esmodule.cjs, factory.ts, handler.cjs, handler.ts, hello.cjs, hello.js, hello.jsx, hello.mjs, hello.mts and 5 more";

describe("MODULE: a file relative to the cwd", () => {
  test("with ./ and an extension", async () => {
    expect(await body("./hello.ts")).toBe("hello.ts /path");
  });

  test("without ./", async () => {
    expect(await body("hello.ts")).toBe("hello.ts /path");
  });

  test("without an extension, .ts is tried first", async () => {
    expect(await body("./hello")).toBe("hello.ts /path");
    expect(await body("hello")).toBe("hello.ts /path");
  });

  test("each extension loads: .js .mjs .mts .jsx .cjs", async () => {
    expect(await body("hello.js")).toBe("hello.js");
    expect(await body("hello.mjs")).toBe("hello.mjs");
    expect(await body("hello.mts")).toBe("hello.mts");
    expect(await body("hello.jsx")).toBe("hello.jsx");
    expect(await body("hello.cjs")).toBe("hello.cjs");
  });

  test("in a subdirectory, with or without the extension", async () => {
    expect(await body("src/server.js")).toBe("src/server.js");
    expect(await body("src/server")).toBe("src/server.js");
  });

  test("relative to the cwd, which may be elsewhere", async () => {
    expect(await body("basic/hello.ts", { cwd: APPS })).toBe("hello.ts /path");
    expect(await body("../uses-dep.ts", { cwd: join(BASIC, "src") })).toBe("uses-dep.ts via tiny-dep /path");
  });

  test("an absolute path", async () => {
    expect(await body(join(BASIC, "hello.mjs"), { cwd: "/" })).toBe("hello.mjs");
  });

  test("a directory name with a space, # and %20 in it", async () => {
    expect(await body("odd #dir%20/app.ts")).toBe("odd dir");
  });
});

describe("MODULE: a directory", () => {
  test("means its index file", async () => {
    expect(await body("dir-index")).toBe("dir-index/index.ts");
    expect(await body("./dir-index/")).toBe("dir-index/index.ts");
  });

  test('package.json "main" wins over the index file', async () => {
    expect(await body("dir-main")).toBe("dir-main/lib/start.js");
  });

  test('package.json "module" wins over "main"', async () => {
    expect(await body("dir-module")).toBe("dir-module/mod.ts");
  });

  test('package.json "exports" "." (import condition) wins over "main"', async () => {
    expect(await body("dir-exports")).toBe("dir-exports/esm.mjs");
  });
});

describe("MODULE: a package from the cwd's node_modules", () => {
  test("a bare name", async () => {
    expect(await body("tiny-app")).toBe("tiny-app");
  });

  test("a package subpath export", async () => {
    expect(await body("tiny-app/admin:admin")).toBe("tiny-app/admin");
  });

  test("a scoped CommonJS package", async () => {
    expect(await body("@tiny/scoped")).toBe("@tiny/scoped");
  });

  test("an app that imports its own node_modules package (its default: a class instance with an arrow fetch over a private field)", async () => {
    expect(await body("uses-dep.ts")).toBe("uses-dep.ts via tiny-dep /path");
  });
});

describe("OBJECT: the value served", () => {
  test("absent means the default export: an object with fetch", async () => {
    expect(await body("hello.ts")).toBe("hello.ts /path");
  });

  test("a default-exported function gets the request and info", async () => {
    expect(await body("handler.ts")).toBe("handler.ts GET scriptName=/prefix");
  });

  test("a named export whose fetch needs `this` is bound to its object", async () => {
    expect(await body("named.ts:app")).toBe("named.ts app");
  });

  test("a dotted path ending in a method is bound to its parent", async () => {
    expect(await body("named.ts:app.fetch")).toBe("named.ts app");
    expect(await body("named.ts:api.v1.handler")).toBe("api.v1.handler");
  });

  test("a named plain function", async () => {
    expect(await body("named.ts:plain")).toBe("named.ts plain");
  });

  test("a Proxy that answers every property (itty-router style)", async () => {
    expect(await body("router.ts")).toBe("router.ts /path");
  });
});

describe("CommonJS", () => {
  test("module.exports = { fetch } is the default", async () => {
    expect(await body("hello.cjs")).toBe("hello.cjs");
    expect(await body("hello.cjs:default")).toBe("hello.cjs");
  });

  test("module.exports = function is the default", async () => {
    expect(await body("handler.cjs")).toBe("handler.cjs");
  });

  test("a named property's method runs with this = module.exports", async () => {
    expect(await body("methods.cjs:fetch")).toBe("methods.cjs fetch");
  });

  test("exports.__esModule: default means exports.default", async () => {
    expect(await body("esmodule.cjs")).toBe("esmodule.cjs default");
  });
});

describe("the module runs once", () => {
  test("an ES module is evaluated once, also when loaded twice", async () => {
    expect(await body("counted.mjs")).toBe("counted.mjs evaluated 1");
    expect(await body("counted.mjs")).toBe("counted.mjs evaluated 1");
  });

  test("a CommonJS module is evaluated once", async () => {
    expect(await body("counted.cjs")).toBe("counted.cjs evaluated 1");
  });
});

describe("--call: OBJECT is a factory", () => {
  test("returning an object with fetch (bound)", async () => {
    expect(await body("factory.ts:create", { call: true })).toBe("made by create");
  });

  test("async, returning a function", async () => {
    expect(await body("factory.ts:createAsync", { call: true })).toBe("made by createAsync");
  });

  test("a method factory is called on its parent", async () => {
    expect(await body("factory.ts:factories.make", { call: true })).toBe("made by factories.make");
  });

  test("returning a thenable Proxy app is served, not awaited forever", async () => {
    expect(await body("factory.ts:createRouter", { call: true })).toBe("made by createRouter");
  });
});

describe("JSX and tsconfig", () => {
  test('.tsx with tsconfig jsxImportSource (Hono\'s setup) and tsconfig "paths"', async () => {
    expect(await body("app.tsx", { cwd: join(APPS, "jsx-tsconfig") })).toBe("<p>hello from app.tsx</p>");
  });

  test(".jsx with tsconfig jsxImportSource", async () => {
    expect(await body("page.jsx", { cwd: join(APPS, "jsx-tsconfig") })).toBe("<b>page.jsx</b>");
  });

  test("JSX options inherited through tsconfig extends", async () => {
    expect(await body("app.tsx", { cwd: join(APPS, "jsx-extends") })).toBe("<i>extends</i>");
  });

  test("classic runtime from tsconfig jsxFactory and jsxFragmentFactory", async () => {
    expect(await body("app.tsx", { cwd: join(APPS, "jsx-classic") })).toBe("<em>classic</em>");
  });

  test("a @jsxImportSource pragma alone", async () => {
    expect(await body("app.tsx", { cwd: join(APPS, "jsx-pragma") })).toBe("<s>pragma</s>");
  });

  test("the tsconfig of the file's directory applies, whatever the cwd", async () => {
    expect(await body("jsx-tsconfig/app.tsx", { cwd: APPS })).toBe("<p>hello from app.tsx</p>");
  });
});

describe("failures: the module cannot be found", () => {
  test("a missing file lists where it looked and what the directory has", async () => {
    expect(await failure("./nope.ts")).toBe(
      `cannot find module "./nope.ts" in ${BASIC} (looked for ./nope.ts, ./nope.ts.${EXTS}, ./nope.ts/index.${EXTS}); the directory has: ${BASIC_LISTING}`,
    );
  });

  test("a bare name also looks for a package", async () => {
    expect(await failure("nope")).toBe(
      `cannot find module "nope" in ${BASIC} (looked for ./nope, ./nope.${EXTS}, ./nope/index.${EXTS}, package "nope" in node_modules); the directory has: ${BASIC_LISTING}`,
    );
  });

  test("a missing file in a subdirectory lists that directory", async () => {
    expect(await failure("src/nope.ts")).toBe(
      `cannot find module "src/nope.ts" in ${BASIC} (looked for ./src/nope.ts, ./src/nope.ts.${EXTS}, ./src/nope.ts/index.${EXTS}, package "src/nope.ts" in node_modules); directory ./src has: server.js`,
    );
  });

  test("a missing directory says so", async () => {
    expect(await failure("./nothere/app.ts")).toBe(
      `cannot find module "./nothere/app.ts" in ${BASIC} (looked for ./nothere/app.ts, ./nothere/app.ts.${EXTS}, ./nothere/app.ts/index.${EXTS}); directory ./nothere does not exist`,
    );
  });

  test("a directory with no index file", async () => {
    expect(await failure("./src")).toBe(
      `cannot find module "./src" in ${BASIC} (looked for ./src, ./src.${EXTS}, ./src/index.${EXTS}); the directory has: ${BASIC_LISTING}`,
    );
  });

  test("a package.json that is not JSON", async () => {
    expect(await failure("broken/bad-manifest")).toBe(
      'cannot load module "broken/bad-manifest": ./broken/bad-manifest/package.json is not valid JSON (JSON Parse error: Property name must be a string literal)',
    );
  });

  test("a runtime built-in is not an app", async () => {
    expect(await failure("fs")).toBe('module "fs" is a built-in module of the runtime (node:fs), not an app');
  });
});

describe("failures: the module does not load", () => {
  test("a syntax error names file, line and column", async () => {
    expect(await failure("broken/syntax.ts")).toBe(
      '"broken/syntax.ts" failed to load: syntax error at ./broken/syntax.ts:3:23: Unexpected ;',
    );
  });

  test("a syntax error in a dependency names the dependency, and counts the others", async () => {
    expect(await failure("broken/imports-syntax.ts")).toBe(
      '"broken/imports-syntax.ts" failed to load: syntax error at ./broken/lib/syntax-lib.ts:2:23: Expected identifier but found ";" (and 1 more)',
    );
  });

  test("a syntax error in a .tsx file keeps its true line", async () => {
    expect(await failure("broken.tsx", { cwd: join(APPS, "jsx-tsconfig") })).toBe(
      '"broken.tsx" failed to load: syntax error at ./broken.tsx:4:15: Syntax Error',
    );
  });

  test("a package the app imports is not installed", async () => {
    expect(await failure("broken/missing-package.ts")).toBe(
      '"broken/missing-package.ts" failed to load: cannot find "tray-fixture-missing-package" imported from ./broken/missing-package.ts (is it installed in node_modules?)',
    );
  });

  test("a relative file the app imports is missing", async () => {
    expect(await failure("broken/missing-file.ts")).toBe(
      '"broken/missing-file.ts" failed to load: cannot find "./lib/absent.ts" imported from ./broken/missing-file.ts',
    );
  });

  test("a name the app imports is not exported by its dependency", async () => {
    expect(await failure("broken/missing-binding.ts")).toBe(
      `"broken/missing-binding.ts" failed to load: SyntaxError: Export named 'absent' not found in module '${BASIC}/broken/lib/ok.ts'.`,
    );
  });

  test("the module throws while it runs", async () => {
    expect(await failure("broken/throws.ts")).toBe(
      '"broken/throws.ts" failed to load: it threw Error: config says port NaN (at ./broken/throws.ts:3:11)',
    );
  });

  test("a dependency throws while it runs", async () => {
    expect(await failure("broken/throws-in-dep.ts")).toBe(
      '"broken/throws-in-dep.ts" failed to load: it threw TypeError: connect ECONNREFUSED 127.0.0.1:5432 (at ./broken/lib/throws-lib.ts:2:13)',
    );
  });

  test("the module throws a non-Error", async () => {
    expect(await failure("broken/throws-string.ts")).toBe(
      '"broken/throws-string.ts" failed to load: it threw the string "plain string"',
    );
  });

  test("a multi-line error message is kept to one line", async () => {
    expect(await failure("broken/throws-multiline.ts")).toBe(
      '"broken/throws-multiline.ts" failed to load: it threw Error: first line second line third line (at ./broken/throws-multiline.ts:2:11)',
    );
  });

  test(".tsx with no JSX configuration needs react, which is not there", async () => {
    expect(await failure("no-config.tsx", { cwd: join(APPS, "jsx-pragma") })).toBe(
      '"no-config.tsx" failed to load: cannot find "react/jsx-dev-runtime" imported from ./no-config.tsx (is it installed in node_modules?)',
    );
  });
});

describe("failures: OBJECT does not name an app", () => {
  test("a missing export lists the exports and one that would serve", async () => {
    expect(await failure("named.ts:ap")).toBe(
      '"named.ts" has no export "ap"; it exports: Server, api, app, badFetch, config, empty, greeting, list, nothing, pending, plain (serve one as named.ts:app)',
    );
  });

  test("no default export", async () => {
    expect(await failure("named.ts")).toBe(
      '"named.ts" has no default export; it exports: Server, api, app, badFetch, config, empty, greeting, list, nothing, pending, plain (serve one as named.ts:app)',
    );
  });

  test("a module with no exports at all", async () => {
    expect(await failure("empty.ts")).toBe('"empty.ts" has no default export; it has no exports at all');
  });

  test("a missing CommonJS property", async () => {
    expect(await failure("methods.cjs:nope")).toBe(
      '"methods.cjs" has no export "nope"; it exports: default, tag, fetch, config (serve the default export as methods.cjs)',
    );
  });

  test("a name in a CommonJS module that exports one function", async () => {
    expect(await failure("handler.cjs:fetch")).toBe(
      '"handler.cjs" has no export "fetch"; its module.exports is a function (serve it as handler.cjs)',
    );
  });

  test("a missing attribute in a dotted path lists what is there", async () => {
    expect(await failure("named.ts:api.v2.handler")).toBe('"named.ts" export "api" has no attribute "v2"; it has: v1');
  });

  test("a missing method lists the class's methods too", async () => {
    expect(await failure("named.ts:app.fetc")).toBe('"named.ts" export "app" has no attribute "fetc"; it has: greeting, fetch');
  });

  test("a dotted path through a primitive", async () => {
    expect(await failure("named.ts:config.port.x")).toBe(
      '"named.ts" export "config.port" is the number 8080, so it has no attribute "x"',
    );
  });

  test("an object with no fetch method says what it has", async () => {
    expect(await failure("named.ts:config")).toBe('"named.ts" export "config" is an object with no fetch method (it has: port, host)');
    expect(await failure("named.ts:empty")).toBe('"named.ts" export "empty" is an object with no fetch method');
  });

  test("fetch that is not a function", async () => {
    expect(await failure("named.ts:badFetch")).toBe('"named.ts" export "badFetch" is an object whose "fetch" is the number 42');
  });

  test("a string, an array, undefined", async () => {
    expect(await failure("named.ts:greeting")).toBe(
      '"named.ts" export "greeting" is a string, not a function or an object with a fetch method',
    );
    expect(await failure("named.ts:list")).toBe('"named.ts" export "list" is an array, not a function or an object with a fetch method');
    expect(await failure("named.ts:nothing")).toBe(
      '"named.ts" export "nothing" is undefined, not a function or an object with a fetch method',
    );
  });

  test("a class, not an instance", async () => {
    expect(await failure("named.ts:Server")).toBe(
      '"named.ts" export "Server" is a class, not a function or an object with a fetch method; export an instance (new Server()) instead',
    );
  });

  test("a Promise", async () => {
    expect(await failure("named.ts:pending")).toBe(
      '"named.ts" export "pending" is a Promise, not a function or an object with a fetch method; await it in the module, or export the function that makes it and use --call',
    );
  });
});

describe("failures: --call", () => {
  test("on an app that is not a function", async () => {
    expect(await failure("factory.ts:app", { call: true })).toBe(
      '"factory.ts" export "app" is an object with a fetch method, not a factory function for --call; drop --call to serve it as it is',
    );
  });

  test("on a plain object", async () => {
    expect(await failure("factory.ts:config", { call: true })).toBe(
      '"factory.ts" export "config" is an object with no fetch method (it has: port), not a factory function for --call',
    );
  });

  test("on a class", async () => {
    expect(await failure("named.ts:Server", { call: true })).toBe(
      '"named.ts" export "Server" is a class, not a factory function for --call',
    );
  });

  test("a factory that throws", async () => {
    expect(await failure("factory.ts:explodes", { call: true })).toBe(
      '"factory.ts" export "explodes" threw when called by --call: Error: database unreachable (at ./factory.ts:33:13)',
    );
  });

  test("an async factory that rejects", async () => {
    expect(await failure("factory.ts:rejects", { call: true })).toBe(
      '"factory.ts" export "rejects" threw when called by --call: RangeError: bad port in config (at ./factory.ts:38:13)',
    );
  });

  test("a factory that returns junk", async () => {
    expect(await failure("factory.ts:returnsNumber", { call: true })).toBe(
      '"factory.ts" export "returnsNumber" called by --call returned the number 42, not a function or an object with a fetch method',
    );
    expect(await failure("factory.ts:returnsNothing", { call: true })).toBe(
      '"factory.ts" export "returnsNothing" called by --call returned undefined, not a function or an object with a fetch method',
    );
  });
});
