// MODULE[:OBJECT] and --call -> a FetchHandler (DESIGN.md §1), or the raw value (loadAppTarget) for
// --interface detection (detect.ts). Runs inside each pool Worker, never on the main thread.
// Steps, each failing with one AppLoadError line: resolve MODULE to a file (resolve.ts), import it
// (import.ts), walk OBJECT's dotted path, call it when --call, then accept a function or an object
// with a fetch method. A method is bound to the object it was read from,
// so `app.fetch` and `{ fetch() { this... } }` both see their `this`.
import { describeThrown, describeValue, isClass, isThenable, listNames, attributeNames, readProperty } from "./describe.ts";
import { AppLoadError } from "./errors.ts";
import { importModule } from "./import.ts";
import type { LoadedModule } from "./import.ts";
import { installTsconfigJsx } from "./jsx.ts";
import { resolveModule } from "./resolve.ts";
import type { AppSpec, FetchHandler } from "./types.ts";

export { AppLoadError } from "./errors.ts";
export { parseAppSpec } from "./spec.ts";

export async function loadApp(spec: AppSpec): Promise<FetchHandler> {
  return toFetchHandler(await loadAppTarget(spec));
}

/** What MODULE[:OBJECT] (and --call) named, before anyone judged it: --interface=auto needs the
 *  raw value to tell a fetch app from a Node-style one (src/app/detect.ts). */
export interface AppTarget {
  value: unknown;
  /** The object the value was read from, for binding; undefined for a top-level ES export. */
  holder: object | undefined;
  /** `"app.ts" export "default"`, or `... called by --call returned` for a factory's result. */
  named: string;
  /** The value is what --call's factory returned (messages then read "... returned a string"). */
  fromFactory: boolean;
}

/** The module named no such export: --interface=auto may still serve a server it listen()ed on. */
export class MissingExportError extends AppLoadError {}

/** Imports MODULE, walks OBJECT and runs the --call factory; throws AppLoadError. */
export async function loadAppTarget(spec: AppSpec): Promise<AppTarget> {
  installTsconfigJsx();
  const file = resolveModule(spec.module, spec.cwd);
  const loaded = await importModule(file, spec.module, spec.cwd);
  const path = (spec.object || "default").split(".");
  const { value, holder } = walkObjectPath(loaded, path, spec.module, spec.cwd);
  const named = `${JSON.stringify(spec.module)} export ${JSON.stringify(path.join("."))}`;
  if (!spec.call) return { value, holder, named, fromFactory: false };
  const made = await callFactory(value, holder, named, spec.cwd);
  return { value: made.app, holder: undefined, named: `${named} called by --call returned`, fromFactory: true };
}

/** The target as a fetch handler (DESIGN.md §1), or the AppLoadError saying why it is not one. */
export function toFetchHandler(target: AppTarget): FetchHandler {
  return toHandler(target.value, target.holder, target.named, target.fromFactory);
}

interface Found {
  value: unknown;
  /** The object the value was read from, for binding; undefined for a top-level ES export. */
  holder: object | undefined;
}

/** Module namespace (or CommonJS module.exports) -> the value OBJECT names. */
function walkObjectPath(loaded: LoadedModule, path: string[], module: string, cwd: string): Found {
  const [first, ...rest] = path;
  let { value, holder } = readExport(loaded, first);
  if (value === undefined && !exportNames(loaded).includes(first)) {
    throw new MissingExportError(missingExport(loaded, first, module));
  }
  for (let i = 0; i < rest.length; i++) {
    const attribute = rest[i];
    const walked = [first, ...rest.slice(0, i)].join(".");
    if ((typeof value !== "object" && typeof value !== "function") || value === null) {
      throw new AppLoadError(
        `${JSON.stringify(module)} export ${JSON.stringify(walked)} is ${describeValue(value)}, so it has no attribute ${JSON.stringify(attribute)}`,
      );
    }
    let next: unknown;
    try {
      next = (value as Record<string, unknown>)[attribute];
    } catch (thrown) {
      throw new AppLoadError(`${JSON.stringify(module)} export ${JSON.stringify(walked)} threw reading ${JSON.stringify(attribute)}: ${describeThrown(thrown, cwd)}`);
    }
    if (next === undefined) {
      throw new AppLoadError(
        `${JSON.stringify(module)} export ${JSON.stringify(walked)} has no attribute ${JSON.stringify(attribute)}; it has: ${listNames(attributeNames(value))}`,
      );
    }
    holder = value;
    value = next;
  }
  return { value, holder };
}

/** One top-level name. CommonJS names are module.exports' properties, read with module.exports
 *  as their `this`; its default is module.exports itself, or exports.default when it says
 *  __esModule (TypeScript's and Babel's CommonJS output). */
function readExport(loaded: LoadedModule, name: string): Found {
  if (!loaded.isCommonJS) {
    return { value: Object.hasOwn(loaded.namespace, name) ? loaded.namespace[name] : undefined, holder: undefined };
  }
  const exports = loaded.commonjsExports;
  if ((typeof exports !== "object" && typeof exports !== "function") || exports === null) {
    return { value: name === "default" ? exports : undefined, holder: undefined }; // module.exports = 42
  }
  if (name !== "default") return { value: readProperty(exports, name), holder: exports };
  const esModule = readProperty(exports, "__esModule") === true && readProperty(exports, "default") !== undefined;
  return esModule ? { value: readProperty(exports, "default"), holder: exports } : { value: exports, holder: undefined };
}

function exportNames(loaded: LoadedModule): string[] {
  if (!loaded.isCommonJS) return Object.keys(loaded.namespace);
  const exports = loaded.commonjsExports;
  const own = typeof exports === "object" && exports !== null ? attributeNames(exports) : [];
  return ["default", ...own.filter((name) => name !== "default" && name !== "__esModule")];
}

function missingExport(loaded: LoadedModule, name: string, module: string): string {
  const what = name === "default" ? "has no default export" : `has no export ${JSON.stringify(name)}`;
  if (loaded.isCommonJS && typeof loaded.commonjsExports === "function") {
    return `${JSON.stringify(module)} ${what}; its module.exports is ${describeValue(loaded.commonjsExports)} (serve it as ${module})`;
  }
  const names = exportNames(loaded);
  if (names.length === 0) return `${JSON.stringify(module)} ${what}; it has no exports at all`;
  const usable = names.find((candidate) => isApp(readExport(loaded, candidate).value));
  let hint = "";
  if (usable === "default") hint = ` (serve the default export as ${module})`;
  else if (usable !== undefined) hint = ` (serve one as ${module}:${usable})`;
  return `${JSON.stringify(module)} ${what}; it exports: ${listNames(names)}${hint}`;
}

/** The value's fetch method, when it has one (a fetch app object: Hono, Elysia, { fetch }). */
export function fetchMethod(value: unknown): ((...args: unknown[]) => unknown) | null {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return null;
  const fetch = readProperty(value, "fetch");
  return typeof fetch === "function" ? (fetch as (...args: unknown[]) => unknown) : null;
}

function isApp(value: unknown): boolean {
  return fetchMethod(value) !== null || (typeof value === "function" && !isClass(value));
}

/** --call: the value is a factory; its result (awaited when a promise) is the app. The result is
 *  boxed because an async function's return adopts thenables, and itty-router's Proxy answers
 *  every property, "then" included: awaiting it would never settle. */
async function callFactory(value: unknown, holder: object | undefined, named: string, cwd: string): Promise<{ app: unknown }> {
  if (typeof value !== "function" || isClass(value)) {
    const instead = isApp(value) ? "; drop --call to serve it as it is" : "";
    throw new AppLoadError(`${named} is ${describeValue(value)}, not a factory function for --call${instead}`);
  }
  try {
    const result: unknown = value.call(holder);
    return isApp(result) || !isThenable(result) ? { app: result } : { app: await result };
  } catch (thrown) {
    throw new AppLoadError(`${named} threw when called by --call: ${describeThrown(thrown, cwd)}`);
  }
}

/** A function, or an object with a fetch method, as a handler bound to where it came from. */
function toHandler(value: unknown, holder: object | undefined, named: string, fromFactory = false): FetchHandler {
  const fetch = fetchMethod(value);
  if (fetch !== null) return fetch.bind(value) as FetchHandler;
  if (typeof value === "function" && !isClass(value)) return bindToHolder(value, holder) as FetchHandler;
  const what = describeValue(value);
  // "an object with no fetch method" already says what is missing; other nouns need the rule.
  const rule = what.includes("fetch") ? "" : ", not a function or an object with a fetch method";
  throw new AppLoadError(`${named}${fromFactory ? "" : " is"} ${what}${rule}${appShapeAdvice(value, fromFactory)}`);
}

/** A function found as a property keeps that object as its `this` (api.v1.handler). */
export function bindToHolder(fn: Function, holder: object | undefined): Function {
  return holder === undefined ? fn : fn.bind(holder);
}

/** What to export instead of a class or an unawaited promise; "" for any other value. */
export function appShapeAdvice(value: unknown, fromFactory: boolean): string {
  if (isClass(value)) return `; export an instance (new ${(value as { name: string }).name || "..."}()) instead`;
  if (isThenable(value) && !fromFactory) return "; await it in the module, or export the function that makes it and use --call";
  return "";
}
