// The one table of options (DESIGN.md §2): every option's name, type, default, help text and
// parser, in --help order. Strategy (Waitress's adjustments.py): plain data built once at load
// time by small constructors (bool, int, bytes, seconds) that fill in the common fields; argv
// reading (argv.ts), validation (../options.ts) and --help (help.ts) all read it, so an option
// is declared in exactly one place. The upper bounds on values live here too.
import { APP_INTERFACES } from "../app/interfaces.ts";
import type { Options } from "./types.ts";
import { ACCESS_LOG_FORMATS, ACCESS_LOG_STDERR, LOG_FORMATS } from "./types.ts";
import { DEFAULT_LIMITS } from "../http/parser.ts";
import { parseAdminListen } from "./listen.ts";
import {
  PROXY_HEADER_NAMES,
  bytesParser,
  enumParser,
  intParser,
  normaliseUrlPrefix,
  octalParser,
  parseAccessLog,
  parseApp,
  parseIdent,
  parseListenList,
  parseNonEmpty,
  parseProxyHeaders,
  parseServerName,
  parseTrustedProxy,
  parseUrlScheme,
} from "./values.ts";

/** How an option's value is written. "action" options (--help, --version) take no value and have no --no- form. */
export type OptionType = "action" | "bool" | "string" | "int" | "bytes" | "octal" | "list";

export type OptionGroup = "standard" | "proxy" | "tuning" | "logging" | "operations" | "compat";

/** The fields of Options that options set directly (the rest are derived). */
export type SettableKey = Exclude<keyof Options, "listeners" | "warnings">;

export interface OptionSpec {
  /** The long name: `--${name}` (and `--no-${name}` for type "bool"). */
  name: string;
  key: SettableKey;
  type: OptionType;
  /** The value's placeholder in --help (`--port=PORT`). */
  metavar: string;
  /** The value when the option is absent. */
  default: Options[SettableKey];
  /** Shown as "Default: ..." in --help; "" shows no default line. */
  shownDefault: string;
  group: OptionGroup;
  /** Sentences for --help; the default and notes are appended by renderHelp(). */
  help: string;
  /** --listen and --trusted-proxy-headers collect every occurrence; others: the last one wins. */
  repeatable: boolean;
  /** Accepted for compatibility but does nothing in tray (said so in --help). */
  noop: boolean;
  /** Single-dash alias, e.g. "-h". */
  short?: string;
  /** The raw value when the option is written without one (`--access-log` alone means "-");
   *  such an option takes its value only after "=", never from the next argument. */
  bare?: string;
  /** Converts a raw command-line value; throws UsageError. Absent for action and bool options. */
  parse?: (raw: string) => Options[SettableKey];
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
// Upper bounds: a value past these is a typo, not a tuning choice.
export const PORT_MAX = 65535;
const THREADS_MAX = 1024;
const SECONDS_MAX = 7 * 24 * 3600;
const COUNT_MAX = 1_000_000;
/** --max-request-headers: past this the quadratic cost above is seconds per request. */
const MAX_REQUEST_HEADERS_MAX = 10_000;
const SIZE_MAX = Number.MAX_SAFE_INTEGER; // sizes are counted in JS numbers (DESIGN.md §4)

function showBytes(n: number): string {
  if (n >= GIB && n % GIB === 0) return `${n} (${n / GIB} GiB)`;
  if (n >= MIB && n % MIB === 0) return `${n} (${n / MIB} MiB)`;
  if (n >= KIB && n % KIB === 0) return `${n} (${n / KIB} KiB)`;
  return String(n);
}

type Entry = Omit<OptionSpec, "repeatable" | "noop" | "metavar" | "shownDefault"> &
  Partial<Pick<OptionSpec, "repeatable" | "noop" | "metavar" | "shownDefault">>;

function bool(name: string, key: SettableKey, def: boolean, group: OptionGroup, help: string, extra: Partial<Entry> = {}): Entry {
  return { name, key, type: "bool", default: def, shownDefault: def ? "on" : "off", group, help, ...extra };
}

function int(name: string, key: SettableKey, def: number, min: number, max: number, group: OptionGroup, help: string, extra: Partial<Entry> = {}): Entry {
  return { name, key, type: "int", metavar: "INT", default: def, group, help, parse: intParser(name, min, max), ...extra };
}

function bytes(name: string, key: SettableKey, def: number, min: number, group: OptionGroup, help: string, max = SIZE_MAX): Entry {
  return { name, key, type: "bytes", metavar: "BYTES", default: def, shownDefault: showBytes(def), group, help, parse: bytesParser(name, min, max) };
}

function seconds(name: string, key: SettableKey, def: number, min: number, group: OptionGroup, help: string, extra: Partial<Entry> = {}): Entry {
  return int(name, key, def, min, SECONDS_MAX, group, help, { metavar: "SECONDS", parse: intParser(name, min, SECONDS_MAX, "a whole number of seconds"), ...extra });
}

function finish(e: Entry): OptionSpec {
  return {
    repeatable: false,
    noop: false,
    metavar: "",
    shownDefault: typeof e.default === "number" || typeof e.default === "string" ? String(e.default) : "",
    ...e,
  };
}

const ENTRIES: Entry[] = [
  // Standard options
  { name: "help", key: "help", type: "action", short: "-h", default: false, shownDefault: "", group: "standard",
    help: "Show this information and exit." },
  { name: "version", key: "version", type: "action", default: false, shownDefault: "", group: "standard",
    help: "Print tray's version and the Bun runtime it was built with, and exit. (Not in Waitress.)" },
  { name: "app", key: "app", type: "string", metavar: "MODULE[:OBJECT]", default: null, shownDefault: "", group: "standard",
    help: "The app to serve; the same as the positional argument (give one or the other).", parse: parseApp },
  bool("call", "call", false, "standard",
    "Call OBJECT with no arguments (awaiting a promise) to get the app, instead of serving OBJECT itself."),
  { name: "interface", key: "interface", type: "string", metavar: APP_INTERFACES.join("|"), default: "auto", group: "standard",
    help: "How tray calls the app. fetch: (request, info) => Response, or an object with a fetch method (Hono, Elysia, export default { fetch }). node: a Node-style (req, res) handler — Express, Connect, an http.Server (its 'request' listener), a Koa app (app.callback()), or, with no usable export, the server the module listen()ed on while loading (tray serves it on its own sockets; the app binds no port). auto decides once at start-up and logs its choice: an object with a fetch method is fetch; an http.Server, a Koa app, or a function whose parameters read (req, res) or (req, res, next) is node; any other function is fetch. WebSockets are served for fetch apps (Bun's upgrade() with a websocket object, Bun.serve called while loading, Deno.upgradeWebSocket; see the README) and for node apps (the http.Server 'upgrade' event: the ws package, socket.io). (Not in Waitress.)",
    parse: enumParser("interface", APP_INTERFACES) },
  { name: "host", key: "host", type: "string", metavar: "ADDR", default: "0.0.0.0", group: "standard",
    help: "Host name or IP address on which to listen; 0.0.0.0 means every IPv4 address, :: every IPv6 address, * both (per --ipv4/--ipv6). May not be used together with --listen or --unix-socket.",
    parse: parseNonEmpty("host", "a host name or IP address") },
  { name: "port", key: "port", type: "int", metavar: "PORT", default: 8080, shownDefault: "8080, or $PORT when that is set", group: "standard",
    help: "TCP port on which to listen; 0 picks a free port. May not be used together with --listen or --unix-socket.",
    parse: intParser("port", 0, PORT_MAX) },
  { name: "listen", key: "listen", type: "list", metavar: "HOST:PORT", default: [], shownDefault: "", group: "standard", repeatable: true,
    help: "Listen on this address. Examples: --listen=127.0.0.1:8080, --listen=[::1]:8080, --listen=*:8080 (* is every address of each family enabled by --ipv4/--ipv6). Without :PORT the default port is used. A host name listens on every address it resolves to.",
    parse: parseListenList },
  bool("ipv4", "ipv4", true, "standard", "Whether IPv4 addresses are used: --no-ipv4 drops them from wildcard (*) and host-name listening, and refuses IPv4 addresses."),
  bool("ipv6", "ipv6", true, "standard", "Whether IPv6 addresses are used: --no-ipv6 drops them from wildcard (*) and host-name listening, and refuses IPv6 addresses."),
  { name: "unix-socket", key: "unixSocket", type: "string", metavar: "PATH", default: null, shownDefault: "", group: "standard",
    help: "Listen on this Unix domain socket instead of TCP (not with --host, --port or --listen; not on Windows).",
    parse: parseNonEmpty("unix-socket", "a file path") },
  { name: "unix-socket-perms", key: "unixSocketPerms", type: "octal", metavar: "OCTAL", default: 0o600, shownDefault: "600", group: "standard",
    help: "Octal permissions of the Unix domain socket.", parse: octalParser("unix-socket-perms") },
  { name: "url-scheme", key: "urlScheme", type: "string", metavar: "STR", default: "http", group: "standard",
    help: "Scheme of request.url when no trusted proxy says otherwise.", parse: parseUrlScheme },
  { name: "url-prefix", key: "urlPrefix", type: "string", metavar: "STR", default: "", shownDefault: "'' (none)", group: "standard",
    help: "The SCRIPT_NAME the app is mounted under: a request path equal to it reaches the app as /, a path under it loses it, any other path is passed on unchanged; info.scriptName carries it. A leading slash is added and trailing slashes removed.",
    parse: normaliseUrlPrefix },
  { name: "ident", key: "ident", type: "string", metavar: "STR", default: "tray", group: "standard",
    help: "Server identity sent in the Server response header; empty sends no Server header.", parse: parseIdent },
  { name: "server-name", key: "serverName", type: "string", metavar: "NAME", default: "tray.invalid", group: "standard",
    help: "Host name for request.url when a request has no Host header (HTTP/1.0) and no trusted proxy supplies one.",
    parse: parseServerName },

  // Proxy options
  { name: "trusted-proxy", key: "trustedProxy", type: "string", metavar: "IP", default: null, shownDefault: "none", group: "proxy",
    help: "IP address of the peer whose proxy headers are believed; * trusts every peer; for a Unix socket use localhost.",
    parse: parseTrustedProxy },
  int("trusted-proxy-count", "trustedProxyCount", 1, 1, COUNT_MAX, "proxy",
    "How many proxies in a chain to trust: with X-Forwarded-For: 192.0.2.1, 198.51.100.7 and a count of 1 only the last hop is believed. Needs --trusted-proxy."),
  { name: "trusted-proxy-headers", key: "trustedProxyHeaders", type: "list", metavar: "LIST", default: [], shownDefault: "none (x-forwarded-proto when --trusted-proxy is given without this option, as in Waitress)", group: "proxy", repeatable: true,
    help: `Which proxy headers to believe, separated by spaces or commas: forwarded, or any of ${PROXY_HEADER_NAMES.filter((n) => n !== "forwarded").join(", ")}. Needs --trusted-proxy.`,
    parse: parseProxyHeaders },
  bool("log-untrusted-proxy-headers", "logUntrustedProxyHeaders", false, "proxy", "Log proxy headers that arrive but are not trusted."),
  bool("clear-untrusted-proxy-headers", "clearUntrustedProxyHeaders", true, "proxy", "Remove untrusted proxy headers before the app sees the request."),

  // Tuning options
  int("threads", "threads", 1, 1, THREADS_MAX, "tuning", "Number of Workers running the app. Each Worker is a separate copy of the app with its own memory (as gunicorn's workers and `deno serve --parallel` are): state kept in module variables or an in-memory session store is not shared between them. One Worker already runs many requests at once; raise this only for CPU-bound handlers, about one per core. (Waitress's 4 threads share one app, so tray's default is 1.)"),
  int("backlog", "backlog", 1024, 1, PORT_MAX, "tuning", "Connection backlog passed to listen()."),
  bytes("recv-bytes", "recvBytes", 8192, 1, "tuning", "Bytes to read from a socket at a time, where the runtime allows choosing.", GIB),
  bytes("outbuf-overflow", "outbufOverflow", 1 * MIB, 0, "tuning", "Pending response output above this many bytes is spilled to a temporary file."),
  bytes("outbuf-high-watermark", "outbufHighWatermark", 16 * MIB, 1, "tuning", "Pause reading the app's response stream while more than this many bytes are waiting to be sent."),
  bytes("inbuf-overflow", "inbufOverflow", 512 * KIB, 0, "tuning", "Request bodies larger than this are buffered in a temporary file instead of memory."),
  int("connection-limit", "connectionLimit", 100, 1, COUNT_MAX, "tuning", "While this many connections are open (WebSocket connections count too), new ones wait unserved until one closes; past --backlog waiting ones, new connections are reset. A connection waiting at the limit makes tray close the open connection that has spent longest on an unfinished request head (408) or idle between requests, so slow clients cannot hold every slot. An open WebSocket holds its slot until it closes and is never closed to make room: for many WebSocket clients raise this (and ulimit -n)."),
  seconds("cleanup-interval", "cleanupInterval", 30, 1, "tuning", "Seconds between sweeps for inactive connections (see --channel-timeout)."),
  seconds("channel-timeout", "channelTimeout", 120, 1, "tuning", "Seconds a connection may be inactive (nothing received and nothing sent) before it is closed. Open WebSockets are exempt: the app's websocket idleTimeout (default 120 s, with pings) closes those."),
  seconds("header-timeout", "headerTimeout", 20, 1, "tuning", "Seconds a client has to send a complete request head, from its first byte (or from connecting, for the first request); past it tray answers 408 and closes. Unlike --channel-timeout, bytes trickling in do not extend it (slowloris). (Not in Waitress; nginx's client_header_timeout, Node's headersTimeout.)"),
  int("channel-request-lookahead", "channelRequestLookahead", 0, 0, COUNT_MAX, "tuning", "Pipelined requests to read ahead while a request is being processed, so that a client that hung up is noticed."),
  bool("log-socket-errors", "logSocketErrors", true, "tuning", "Log premature client disconnects."),
  bytes("max-request-header-size", "maxRequestHeaderSize", 256 * KIB, 1, "tuning", "Largest request head (request line and header fields) accepted; larger gets 431."),
  // Issue 13 item 5: the count of fields is bounded as well as their bytes.
  int("max-request-headers", "maxRequestHeaders", DEFAULT_LIMITS.maxFields, 1, MAX_REQUEST_HEADERS_MAX, "tuning",
    "Most header field lines in a request (and trailer lines after a chunked body) accepted; more gets 431. " +
      "Apache's LimitRequestFields default; browsers send about 20. Each distinct name costs the app's Headers a search of the names before it (Bun's is quadratic: 2,000 cost about 13 ms, 32,000 over 3 s of a Worker), so raise it with care (Node allows 2,000)."),
  bytes("max-request-body-size", "maxRequestBodySize", 1 * GIB, 0, "tuning", "Largest request body accepted; larger gets 413."),
  bool("expose-tracebacks", "exposeTracebacks", false, "tuning", "Put the stack trace of an app's uncaught error in the 500 response body."),
  seconds("shutdown-timeout", "shutdownTimeout", 30, 0, "tuning", "On SIGINT or SIGTERM, stop accepting and give running requests this many seconds to finish before exiting. (Not in Waitress.)"),

  // Operations: Worker deadlines, recycling and reloads (not in Waitress; issue 15 items 2-6, issue 13 item 9).
  seconds("worker-timeout", "workerTimeout", 30, 0, "tuning", "A Worker whose event loop has not turned for this many seconds (a handler looping or blocking) is replaced; each request it held gets 503 and a log line saying how long it ran. Other Workers go on. 0 turns it off. (Not in Waitress; gunicorn's --timeout.)"),
  seconds("request-timeout", "requestTimeout", 0, 0, "tuning", "A request whose response head has not come this many seconds after it reached its Worker gets 503; the app sees request.signal abort (fetch) or 'aborted' and 'close' on req (Node-style). 0 turns it off. (Not in Waitress.)"),
  seconds("drain-delay", "drainDelay", 0, 0, "tuning", "On SIGTERM, keep serving new and keep-alive requests for this many seconds, listeners open (so a load balancer sees the readiness probe fail and stops sending), then shut down as --shutdown-timeout says. (Not in Waitress.)"),
  int("max-requests", "maxRequests", 0, 0, COUNT_MAX, "tuning", "Replace a Worker after it was given this many requests: a fresh Worker loads the app, then takes the new requests while the old one finishes what it holds, so none fails. Insurance against an app that leaks memory. 0 turns it off. (Not in Waitress; gunicorn's --max-requests.)"),
  int("max-requests-jitter", "maxRequestsJitter", 0, 0, COUNT_MAX, "tuning", "Add a random 0 to this many requests to each Worker's --max-requests, so Workers are not all replaced at once. (Not in Waitress; gunicorn's option.)"),
  { ...int("worker-max-memory", "workerMaxMemory", 0, 0, 1024 * 1024, "tuning", "Replace a Worker whose JavaScript heap passes this many MiB (checked four times a second; its requests get 503). Bun's Workers have no hard heap limit, so a handler allocating in one synchronous loop is stopped late, by --worker-timeout or when the process's memory passes --threads times this. 0 turns it off. (Not in Waitress.)"),
    metavar: "MB", parse: intParser("worker-max-memory", 0, 1024 * 1024, "a whole number of MiB") },

  // Logging and development (not in Waitress; the defaults keep Waitress's behaviour).
  { name: "access-log", key: "accessLog", type: "string", metavar: "FILE", bare: ACCESS_LOG_STDERR, default: null, shownDefault: "none", group: "logging",
    help: "Log one line per request, in the format of --access-log-format: to standard error when given alone or as --access-log=-, else appended to FILE (created if missing; it must be writable before tray listens).",
    parse: parseAccessLog },
  { name: "access-log-format", key: "accessLogFormat", type: "string", metavar: ACCESS_LOG_FORMATS.join("|"), default: "common", group: "logging",
    help: "common: the Common Log Format (client - - [time] \"request line\" status bytes); combined: the same plus the Referer and User-Agent, as Apache and nginx write it. Needs --access-log.",
    parse: enumParser("access-log-format", ACCESS_LOG_FORMATS) },
  { name: "log-format", key: "logFormat", type: "string", metavar: LOG_FORMATS.join("|"), default: "text", group: "logging",
    help: "How tray writes its own lines on standard error (Serving on, shutdown, app errors): text, one plain line each; json, one object per line with time, level and message.",
    parse: enumParser("log-format", LOG_FORMATS) },
  bool("reload", "reload", false, "logging",
    "For development: when a file under the app's directory changes (node_modules and dot-files aside), load the app again in fresh Workers; requests already running finish on the old ones, and the listening sockets and open connections stay."),

  // Operations, edge half (issue 15): PROXY protocol and the admin listener. Not in Waitress.
  bool("proxy-protocol", "proxyProtocol", false, "proxy",
    "Connections from the --trusted-proxy peer must begin with a PROXY protocol header (HAProxy's send-proxy or send-proxy-v2; version 1 or 2), whose source address becomes the client address the app, the access log and the proxy-header rules see; a connection from that peer without one, or with a bad one, is closed, and so is a connection from any other peer that begins with one. Needs --trusted-proxy. (Not in Waitress.)"),
  { name: "admin-listen", key: "adminListen", type: "string", metavar: "HOST:PORT", default: null, shownDefault: "none", group: "operations",
    help: "Open a second listener, answered by tray itself and never by the app, even while every Worker is busy: GET /livez (200 while tray runs and a Worker has the app loaded), GET /readyz (200 while serving, 503 once shutting down) and GET /metrics (Prometheus text format). Keep it off the public network: use 127.0.0.1 or a private address. Port 0 picks a free port.",
    parse: parseAdminListen },

  // Compatibility: accepted so waitress-serve command lines work, no effect in tray.
  { ...bytes("send-bytes", "sendBytes", 1, 1, "compat", "Waitress's socket send size, deprecated there; using it prints a deprecation warning.", GIB), noop: true },
  seconds("asyncore-loop-timeout", "asyncoreLoopTimeout", 1, 0, "compat", "Waitress's asyncore.loop() timeout (tray has no asyncore loop).", { noop: true, metavar: "INT" }),
  bool("asyncore-use-poll", "asyncoreUsePoll", false, "compat", "Waitress's asyncore.loop() use_poll switch (tray has no asyncore loop).", { noop: true }),
]

/** Every option, in --help order. DESIGN.md §2; names and defaults are waitress-serve's unless noted. */
export const OPTION_TABLE: readonly OptionSpec[] = ENTRIES.map(finish);

/** The value of every option when absent (the default port ignores $PORT). */
export function defaultOptions(): Options {
  const out: Record<string, unknown> = { listeners: [], warnings: [] };
  for (const o of OPTION_TABLE) out[o.key] = Array.isArray(o.default) ? [...o.default] : o.default;
  return out as unknown as Options;
}
