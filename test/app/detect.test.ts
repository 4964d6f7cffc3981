// --interface=auto's rule 4 (src/app/detect.ts): reading a function's parameter names from its
// source, and the Node-style verdict drawn from them.
import { describe, expect, test } from "bun:test";
import { looksNodeStyle, parameterNames } from "../../src/app/detect.ts";

// Built from source text so the forms are exactly these (no transpiler rewriting them).
const fn = (source: string) => new Function(`return (${source});`)() as (...args: never[]) => unknown;

describe("parameterNames", () => {
  const CASES: [string, string[] | null][] = [
    ["function (req, res, next) { app.handle(req, res, next); }", ["req", "res", "next"]],
    ["function app(req, res, next) {}", ["req", "res", "next"]],
    ["async function handler(request, info) {}", ["request", "info"]],
    ["(req, res) => {}", ["req", "res"]],
    ["async (req, res) => {}", ["req", "res"]],
    ["req => req", ["req"]],
    ["async request => request", ["request"]],
    ["() => 1", []],
    ["(...args) => args", ["args"]],
    ["(req = { url: '(,)' }, res) => {}", ["req", "res"]],
    ["({ url }, res) => {}", ["", "res"]],
    ["([a, b], c) => {}", ["", "c"]],
    ["(req, /* the response */ res) => {}", ["req", ""]],
    ["function* gen(a, b) {}", ["a", "b"]],
  ];
  for (const [source, names] of CASES) {
    test(source, () => {
      expect(parameterNames(fn(source))).toEqual(names);
    });
  }

  test("a method's shorthand source", () => {
    const holder = { handle(req: unknown, res: unknown) {
      void req;
      void res;
    } };
    expect(parameterNames(holder.handle)).toEqual(["req", "res"]);
  });

  test("bound and native functions hide their names", () => {
    expect(parameterNames(fn("(req, res) => {}").bind(null))).toBeNull();
    expect(parameterNames(Math.max)).toBeNull();
  });
});

describe("looksNodeStyle", () => {
  test("a second parameter named like a response", () => {
    for (const source of ["(req, res) => {}", "(request, response) => {}", "function (req, reply) {}", "(a, res, next) => {}"]) {
      expect(looksNodeStyle(fn(source))).toBe(true);
    }
  });

  test("fetch handlers and anything else", () => {
    for (const source of ["(request, info) => {}", "(req) => {}", "(request, env, ctx) => {}", "() => {}", "(...args) => {}", "(c, next) => {}"]) {
      expect(looksNodeStyle(fn(source))).toBe(false);
    }
  });

  test("hidden names: three or more parameters are (req, res, next), fewer are not", () => {
    expect(looksNodeStyle(fn("(a, b, c) => {}").bind(null))).toBe(true);
    expect(looksNodeStyle(fn("(a, b) => {}").bind(null))).toBe(false);
  });
});
