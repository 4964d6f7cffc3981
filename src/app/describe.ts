// Words for error lines: what a value is ("an object with no fetch method (it has: port)"),
// lists of names, paths shown relative to the cwd, and foreign error text squeezed onto one line.
// Every AppLoadError message is built from these so the messages read alike.
import { isAbsolute, relative, sep } from "node:path";
import { MAX_LISTED_NAMES, MAX_QUOTED_ERROR_CHARS } from "./limits.ts";

/** "a, b, c" with at most MAX_LISTED_NAMES shown; "(none)" when empty. */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return "(none)";
  const shown = names.slice(0, MAX_LISTED_NAMES).join(", ");
  const more = names.length - MAX_LISTED_NAMES;
  return more > 0 ? `${shown} and ${more} more` : shown;
}

/** A path under cwd as "./x/y.ts" (what the user would type), anything else absolute. */
export function displayPath(absPath: string, cwd: string): string {
  const rel = relative(cwd, absPath);
  if (rel === "") return ".";
  if (rel.startsWith("..") || isAbsolute(rel)) return absPath;
  return "." + sep + rel;
}

/** Foreign text (an error message, a stack line) as one bounded line. */
export function oneLine(text: string): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, " ").trim();
  return flat.length > MAX_QUOTED_ERROR_CHARS ? flat.slice(0, MAX_QUOTED_ERROR_CHARS) + "…" : flat;
}

/** A thrown value as "TypeError: msg (at ./app.ts:3:9)" (or what a non-Error is), on one line. */
export function describeThrown(thrown: unknown, cwd: string): string {
  if (thrown instanceof Error) {
    const frame = firstFrame(thrown, cwd);
    return oneLine(`${thrown.name}: ${thrown.message}`) + (frame === null ? "" : ` (at ${frame})`);
  }
  if (typeof thrown === "string") return oneLine(`the string ${JSON.stringify(thrown)}`);
  return describeValue(thrown);
}

/** "./app.ts:2:18" (line and column only when known). */
export function sourceLocation(file: string, line: number | undefined, column: number | undefined, cwd: string): string {
  const shown = displayPath(file, cwd);
  if (line === undefined || line <= 0) return shown;
  return column !== undefined && column > 0 ? `${shown}:${line}:${column}` : `${shown}:${line}`;
}

/** The first stack frame that names a user file (not tray's own bundle, not a runtime internal). */
function firstFrame(error: Error, cwd: string): string | null {
  for (const raw of (error.stack ?? "").split("\n")) {
    const line = raw.trim();
    if (!line.startsWith("at ")) continue;
    const match = /\(?((?:\/|[A-Za-z]:[\\/]|file:\/\/)[^()]*?):(\d+):(\d+)\)?$/.exec(line);
    if (match === null) continue;
    const file = match[1].startsWith("file://") ? new URL(match[1]).pathname : match[1];
    if (file.startsWith("/$bunfs/") || file.includes("~BUN")) continue;
    return sourceLocation(file, Number(match[2]), Number(match[3]), cwd);
  }
  return null;
}

export function isClass(value: unknown): boolean {
  return typeof value === "function" && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

/** A real Promise or any thenable that is not already an app (itty-router's Proxy answers every property). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true;
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  return typeof (value as { then?: unknown }).then === "function";
}

/** What `value.x` can name: own enumerable keys, then the methods of its class (and the classes it
 *  extends, short of Object), or [] when a Proxy refuses to list them. */
export function attributeNames(value: object): string[] {
  try {
    const names = new Set(Object.keys(value));
    for (let proto = Object.getPrototypeOf(value); proto !== null && proto !== Object.prototype && proto !== Function.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) if (name !== "constructor") names.add(name);
    }
    return [...names];
  } catch {
    return [];
  }
}

/** What a value is, as a noun phrase: "a string", "a class", "an object with no fetch method (it has: a, b)". */
export function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return `the number ${value}`;
    case "bigint":
      return "a bigint";
    case "boolean":
      return `the boolean ${value}`;
    case "symbol":
      return "a symbol";
    case "function":
      return isClass(value) ? "a class" : "a function";
  }
  if (Array.isArray(value)) return "an array";
  if (isThenable(value)) return "a Promise";
  const object = value as Record<string, unknown>;
  const fetch = readProperty(object, "fetch");
  const kind = constructorName(object);
  const what = kind ? `a ${kind} instance` : "an object";
  if (typeof fetch === "function") return `${what} with a fetch method`;
  if (fetch !== undefined) return `${what} whose "fetch" is ${describeValue(fetch)}`;
  const names = attributeNames(object);
  return names.length === 0 ? `${what} with no fetch method` : `${what} with no fetch method (it has: ${listNames(names)})`;
}

function constructorName(object: object): string | null {
  const proto: unknown = Object.getPrototypeOf(object);
  if (proto === null || proto === Object.prototype) return null;
  const ctor = (proto as { constructor?: unknown }).constructor;
  return typeof ctor === "function" && ctor.name !== "" && ctor.name !== "Object" ? ctor.name : null;
}

/** obj[key], or undefined when a getter or Proxy trap throws. */
export function readProperty(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
