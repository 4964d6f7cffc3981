// parseAppSpec: MODULE[:OBJECT] splits on the last ":" that is not a Windows drive letter (DESIGN.md §1).
import { describe, expect, test } from "bun:test";
import { AppLoadError, parseAppSpec } from "../../src/app/loader.ts";

const CWD = "/srv/site";

function split(text: string): [string, string] {
  const spec = parseAppSpec(text, CWD, false);
  return [spec.module, spec.object];
}

function rejection(text: string): string {
  try {
    parseAppSpec(text, CWD, false);
  } catch (error) {
    expect(error).toBeInstanceOf(AppLoadError);
    return (error as Error).message;
  }
  throw new Error(`parseAppSpec(${JSON.stringify(text)}) did not throw`);
}

describe("parseAppSpec", () => {
  test("no colon: the whole text is the module and the object is default", () => {
    expect(split("app.ts")).toEqual(["app.ts", "default"]);
    expect(split("./src/server.js")).toEqual(["./src/server.js", "default"]);
    expect(split("@scope/pkg")).toEqual(["@scope/pkg", "default"]);
  });

  test("MODULE:OBJECT with a dotted path", () => {
    expect(split("app.ts:app")).toEqual(["app.ts", "app"]);
    expect(split("app.ts:app.fetch")).toEqual(["app.ts", "app.fetch"]);
    expect(split("src/api.ts:api.v1.handler")).toEqual(["src/api.ts", "api.v1.handler"]);
  });

  test("splits on the last colon", () => {
    expect(split("./odd:name.ts:app")).toEqual(["./odd:name.ts", "app"]);
  });

  test("a Windows drive letter is part of the module", () => {
    expect(split("C:\\srv\\app.ts")).toEqual(["C:\\srv\\app.ts", "default"]);
    expect(split("c:/srv/app.ts")).toEqual(["c:/srv/app.ts", "default"]);
    expect(split("C:\\srv\\app.ts:app")).toEqual(["C:\\srv\\app.ts", "app"]);
    expect(split("D:/srv/app.ts:app.fetch")).toEqual(["D:/srv/app.ts", "app.fetch"]);
  });

  test("a one-letter module without a path separator is a module, not a drive", () => {
    expect(split("a:app")).toEqual(["a", "app"]);
  });

  test("keeps cwd and call", () => {
    expect(parseAppSpec("app.ts:make", CWD, true)).toEqual({ module: "app.ts", object: "make", call: true, cwd: CWD });
  });

  test("an empty module is refused with one line", () => {
    expect(rejection(":app")).toBe('":app" names no module; write MODULE or MODULE:OBJECT (e.g. app.ts:app)');
    expect(rejection("")).toBe('"" names no module; write MODULE or MODULE:OBJECT (e.g. app.ts:app)');
  });

  test("an empty object or an empty name in the dotted path is refused", () => {
    expect(rejection("app.ts:")).toBe(
      '"app.ts:" has an empty name in its object path ""; write MODULE:OBJECT with OBJECT like app or app.fetch, or leave out ":" for the default export',
    );
    expect(rejection("app.ts:app..fetch")).toContain('has an empty name in its object path "app..fetch"');
    expect(rejection("app.ts:.app")).toContain('has an empty name in its object path ".app"');
    expect(rejection("app.ts:app.")).toContain('has an empty name in its object path "app."');
  });
});
