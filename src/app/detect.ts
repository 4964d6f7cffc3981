// --interface=auto|fetch|node: which of the two JavaScript server interfaces the app is written
// for, decided once per Worker at load time (and logged once by the pool).
//
// auto, in this order:
//   1. an object (or function) with a fetch method -> fetch. First, because Elysia also has
//      .handle, Hono .request, and itty-router is a Proxy that answers any property name;
//   2. an http.Server (`export default http.createServer(h)`) -> node, through its 'request' listener;
//   3. an object with callback and use methods (Koa) -> node, through app.callback();
//   4. any other function: arity cannot tell (Express reports 3, `(...a)` 0, a fetch handler 1 or
//      2), so the parameter names decide: a second parameter named like a response (res,
//      response, reply...) -> node; names the runtime does not show (a bound function) and three
//      or more parameters -> node; anything else -> fetch, the contract of DESIGN.md §1 that
//      `(request, info) => Response` apps rely on. The log line says how to force the other;
//   5. no usable export, but the module called listen() while loading -> node, serving that
//      server on tray's sockets (listen-capture.ts keeps the app from binding its own port).
//   6. no usable export, but the module called Bun.serve() while loading -> fetch, serving its
//      fetch and websocket on tray's sockets (bun-serve-capture.ts; under every --interface).
// A fetch app's WebSocket handlers: the export's `websocket` (`export default { fetch, websocket }`),
// else those of the Bun.serve() it called while loading; an Elysia app that never called listen()
// has its listen() called once here (it binds nothing) so that its .ws() routes get a server.
// --interface=node skips 1 and 4's guess (any function is (req, res)); --interface=fetch is
// loadApp() exactly, with its messages. Every failure is one AppLoadError line naming the module.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Server } from "node:http";
import { describeThrown, describeValue, isClass, isThenable, readProperty } from "./describe.ts";
import { AppLoadError } from "./errors.ts";
import type { AppInterface } from "./interfaces.ts";
import { captureListen, capturedListens, type CapturedListen } from "./listen-capture.ts";
import { CapturedServer, captureBunServe, capturedServes, type CapturedServe } from "./bun-serve-capture.ts";
import { MissingExportError, appShapeAdvice, bindToHolder, fetchMethod, loadAppTarget, toFetchHandler, type AppTarget } from "./loader.ts";
import type { AppSpec, FetchHandler } from "./types.ts";

/** A Node-style app: node:http's 'request' listener. It may return a promise (Koa, async handlers). */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/** What a Node-style app is served through: its 'request' listener, and the http.Server whose
 *  'upgrade' listeners (`ws`, socket.io) get requests that switch protocols — the exported server,
 *  else the one server the module called listen() on while loading; null when there is none. */
export interface NodeApp {
  listener: NodeListener;
  server: Server | null;
}

export type DetectedApp =
  /** websocket: the app's Bun-style `websocket` object, or undefined; value: the exported app. */
  | { interface: "fetch"; handler: FetchHandler; note: string; websocket?: unknown; value?: unknown }
  | ({ interface: "node"; note: string } & NodeApp);

/** Parameter names that mark the second parameter of a Node-style handler. */
const RESPONSE_NAMES = new Set(["res", "resp", "response", "reply", "rep", "_res", "_response", "serverResponse", "httpResponse"]);
/** Parameters a function must declare for "(req, res, next)" to be assumed when names are hidden. */
const NODE_ARITY_WHEN_UNNAMED = 3;

export async function detectApp(spec: AppSpec, choice: AppInterface): Promise<DetectedApp> {
  captureBunServe();
  let detected: DetectedApp;
  try {
    detected = await detectExport(spec, choice);
  } catch (error) {
    const served = capturedServes();
    if (!(error instanceof AppLoadError) || served.length === 0 || choice === "node") throw error;
    return serveCaptured(spec, served, error.message);
  }
  if (detected.interface === "fetch" && detected.websocket === undefined) detected.websocket = await capturedWebSocket(detected);
  return detected;
}

async function detectExport(spec: AppSpec, choice: AppInterface): Promise<DetectedApp> {
  if (choice === "fetch") {
    const target = await loadAppTarget(spec);
    return { interface: "fetch", handler: toFetchHandler(target), note: "", websocket: webSocketOf(target.value), value: target.value };
  }
  captureListen();
  let target: AppTarget;
  try {
    target = await loadAppTarget(spec);
  } catch (error) {
    const listened = capturedListens();
    if (!(error instanceof MissingExportError) || listened.length === 0) throw error;
    return serveListened(spec, listened, `${JSON.stringify(spec.module)} has no export ${JSON.stringify(spec.object || "default")}`);
  }
  const detected = choice === "auto" ? detectAuto(target, spec.cwd) : detectNode(target, spec.cwd);
  const listened = capturedListens();
  if (detected === null) {
    if (listened.length > 0) return serveListened(spec, listened, `${subject(target)} ${describeValue(target.value)}`);
    throw new AppLoadError(unusable(target, choice));
  }
  if (detected.interface === "node" && detected.server === null && listened.length === 1) detected.server = listened[0].server;
  if (listened.length > 0) {
    const also = `the listen() it called while loading (${listened.map((l) => l.where).join(", ")}) bound nothing: the app is served on tray's sockets`;
    detected.note = detected.note === "" ? `${target.named}: ${also}` : `${detected.note}; ${also}`;
  }
  return detected;
}

function detectAuto(target: AppTarget, cwd: string): DetectedApp | null {
  const value = target.value;
  const how = (what: string, as: string, hint: string) => `--interface=auto: ${subject(target)} ${what}, so it is served as ${as}${hint}`;
  const fetch = fetchMethod(value);
  if (fetch !== null) return { interface: "fetch", handler: toFetchHandler(target), note: how(describeValue(value), "a fetch app", ""), websocket: webSocketOf(value), value };
  const node = nodeListenerOf(target, cwd);
  if (node !== null) return { interface: "node", listener: node.listener, server: node.server, note: how(node.what, "a Node-style (req, res) app", "") };
  if (typeof value !== "function" || isClass(value)) return null;
  const shape = functionShape(value);
  if (looksNodeStyle(value)) {
    return { interface: "node", listener: bindToHolder(value, target.holder) as NodeListener, server: null, note: how(shape, "a Node-style (req, res) app", "; --interface=fetch serves it as (request, info) => Response") };
  }
  return { interface: "fetch", handler: toFetchHandler(target), note: how(shape, "a fetch handler (request, info) => Response", "; if it takes (req, res), start tray with --interface=node") };
}

/** The `websocket` property of a fetch app object (Bun.serve's shape), or undefined. */
function webSocketOf(value: unknown): unknown {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  const websocket = readProperty(value, "websocket");
  return websocket === null ? undefined : websocket;
}

/** Elysia's shape: .ws() routes reach the server its listen() made (app.server), null until then. */
function looksLikeUnlistenedElysia(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return typeof readProperty(value, "listen") === "function" && typeof readProperty(value, "ws") === "function" && readProperty(value, "server") === null;
}

/** WebSocket handlers for an exported fetch app with none of its own: its Bun.serve()'s. */
async function capturedWebSocket(detected: DetectedApp): Promise<unknown> {
  const value = detected.interface === "fetch" ? detected.value : undefined;
  if (capturedServes().length === 0 && looksLikeUnlistenedElysia(value)) {
    // Binds nothing (Bun.serve is captured); sets app.server, which its .ws() routes upgrade on.
    (readProperty(value as object, "listen") as (port: number) => unknown).call(value, 0);
    await Promise.resolve();
  }
  const served = capturedServes();
  return served.length === 0 ? undefined : served[served.length - 1].websocket;
}

/** Rule 6: the fetch and websocket the module passed to Bun.serve() while loading. */
function serveCaptured(spec: AppSpec, served: readonly CapturedServe[], why: string): DetectedApp {
  const where = served.map((s) => s.where).join(", ");
  if (served.length > 1) {
    throw new AppLoadError(`${why}; it also called Bun.serve() ${served.length} times while loading (${where}); export the app to serve, or name it as ${spec.module}:NAME`);
  }
  const entry = served[0];
  if (typeof entry.fetch !== "function") {
    throw new AppLoadError(`${why}; it called Bun.serve() (${where}) with no fetch function, which tray needs to serve it`);
  }
  const server = new CapturedServer(entry, 0, "0.0.0.0");
  // Read per request: Elysia's server.reload() replaces the fetch.
  const handler: FetchHandler = (request, info) => (entry.fetch as FetchHandler).call(server, request, info);
  return {
    interface: "fetch",
    handler,
    websocket: entry.websocket ?? undefined,
    note: `${JSON.stringify(spec.module)} called Bun.serve() while loading: serving its fetch${entry.websocket ? " and websocket" : ""} on tray's sockets (its ${where} is not bound)`,
  };
}

function detectNode(target: AppTarget, cwd: string): DetectedApp | null {
  const node = nodeListenerOf(target, cwd);
  if (node !== null) return { interface: "node", listener: node.listener, server: node.server, note: "" };
  const value = target.value;
  if (typeof value === "function" && !isClass(value)) return { interface: "node", listener: bindToHolder(value, target.holder) as NodeListener, server: null, note: "" };
  return null;
}

/** Rules 2 and 3: an http.Server or a Koa app, as a listener; else null. */
function nodeListenerOf(target: AppTarget, cwd: string): (NodeApp & { what: string }) | null {
  const value = target.value;
  if (value instanceof Server) {
    if (value.listenerCount("request") === 0) {
      throw new AppLoadError(`${subject(target)} an http.Server with no 'request' listener; create it with http.createServer(handler), or add one with server.on("request", handler)`);
    }
    return { listener: serverListener(value), server: value, what: "an http.Server" };
  }
  if (typeof value !== "object" || value === null) return null;
  const callback = readProperty(value, "callback");
  if (typeof callback !== "function" || typeof readProperty(value, "use") !== "function") return null;
  let listener: unknown;
  try {
    listener = callback.call(value);
  } catch (thrown) {
    throw new AppLoadError(`${subject(target)} what looks like a Koa app, but its callback() threw: ${describeThrown(thrown, cwd)}`);
  }
  if (typeof listener !== "function") {
    throw new AppLoadError(`${subject(target)} what looks like a Koa app, but its callback() returned ${describeValue(listener)}, not a (req, res) function`);
  }
  return { listener: listener as NodeListener, server: null, what: "a Koa app (it has callback and use methods), called through app.callback()" };
}

/** A server's 'request' listeners, looked up per request (an app may add one after loading).
 *  One listener is called directly, so its promise (an async handler) is seen. */
function serverListener(server: Server): NodeListener {
  return (req, res) => {
    const listeners = server.listeners("request");
    if (listeners.length === 1) return (listeners[0] as NodeListener).call(server, req, res);
    if (listeners.length === 0) throw new Error("the app's http.Server has no 'request' listener any more");
    server.emit("request", req, res);
    return undefined;
  };
}

function serveListened(spec: AppSpec, listened: readonly CapturedListen[], why: string): DetectedApp {
  const where = listened.map((l) => l.where).join(", ");
  if (listened.length > 1) {
    throw new AppLoadError(`${why}, and it called listen() on ${listened.length} servers while loading (${where}); export the one to serve, or name it as ${spec.module}:NAME`);
  }
  const server = listened[0].server;
  if (server.listenerCount("request") === 0) {
    throw new AppLoadError(`${why}; it called listen() (${where}) on an http.Server with no 'request' listener`);
  }
  return {
    interface: "node",
    listener: serverListener(server),
    server,
    note: `${why}, but it called listen() while loading: serving that server on tray's sockets (its ${where} is not bound)`,
  };
}

/** `"app.js" export "default" is` — or, for --call, `... called by --call returned`. */
function subject(target: AppTarget): string {
  return target.fromFactory ? target.named : `${target.named} is`;
}

function unusable(target: AppTarget, choice: AppInterface): string {
  const { value, fromFactory } = target;
  const what = `${subject(target)} ${describeValue(value)}`;
  if (choice === "node" && fetchMethod(value) !== null) return `${what}: that is a fetch app; serve it with --interface=fetch (or auto)`;
  const rule = choice === "node"
    ? "not a Node-style app (a (req, res) function, an http.Server, a Koa app)"
    : "not a fetch app (a function, or an object with a fetch method) or a Node-style app (an http.Server, a Koa app)";
  let advice = appShapeAdvice(value, fromFactory);
  if (advice === "" && (value === undefined || (typeof value === "object" && value !== null && !isThenable(value)))) {
    advice = "; if the module starts its own server, it must call listen() while it loads";
  }
  return `${what}, ${rule}${advice}`;
}

/** Rule 4: the parameters say (req, res), or hide their names and number three or more. */
export function looksNodeStyle(fn: Function): boolean {
  const names = parameterNames(fn);
  if (names === null) return fn.length >= NODE_ARITY_WHEN_UNNAMED;
  return names.length >= 2 && RESPONSE_NAMES.has(names[1]);
}

/** "a function (req, res, next)", for the log line. */
function functionShape(fn: Function): string {
  const names = parameterNames(fn);
  return names === null || names.length === 0 ? "a function" : `a function (${names.join(", ")})`;
}

/**
 * The declared parameter names, read from the function's source text ("" for a destructured
 * one), or null when the source does not show them (bound and native functions, odd syntax).
 * Handles `function f(a, b)`, `async (a, b) =>`, `a =>`, methods `m(a, b) {`, default values.
 */
export function parameterNames(fn: Function): string[] | null {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return null;
  }
  if (source.includes("[native code]")) return null;
  const single = /^\s*(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(source);
  if (single !== null) return [single[1]];
  const head = /^\s*(?:async\s+)?(?:function\b\s*\*?\s*)?(?:[A-Za-z_$][\w$]*\s*)?\(/.exec(source);
  if (head === null) return null;
  // Split the text up to the matching ")" on top-level commas; brackets and strings nest.
  const names: string[] = [];
  let depth = 0;
  let quote = "";
  let start = head[0].length;
  for (let i = start; i < source.length; i++) {
    const c = source[i];
    if (quote !== "") {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if ((c === ")" || c === "]" || c === "}") && depth > 0) depth--;
    else if (c === "," || c === ")") {
      if (depth > 0) continue;
      const param = source.slice(start, i).trim();
      if (param !== "") names.push(/^(?:\.\.\.)?([A-Za-z_$][\w$]*)/.exec(param)?.[1] ?? "");
      if (c === ")") return names;
      start = i + 1;
    }
  }
  return null;
}
