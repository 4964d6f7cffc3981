// The one table of options (DESIGN.md §2): names, types, defaults, help text and validation.
// The CLI, --help and validation are all driven from OPTION_TABLE; nothing else parses argv.
//
// Strategy (Waitress's adjustments.py, stricter): argv is read once, left to right, into raw
// strings keyed by table entry; each raw value is then converted by its entry's parser, which
// throws a UsageError with one sentence naming the option, the bad value and what is accepted;
// then the cross-option rules (--listen vs --host/--port, --unix-socket alone, proxy settings
// need --trusted-proxy, ...) run, and the listen addresses are derived. parseOptions() is pure
// (argv and env in, Options out); resolveListenerNames() is the one step that does I/O (DNS).
//
// Where tray is stricter than Waitress (every such case is a UsageError, exit 2):
// - integers are plain decimal digits within a stated range (Waitress takes int(): "+1", "1_0",
//   "-5", and --port=70000 silently binds port 4464); --threads=0 and similar are refused;
// - ports are numbers, not service names; IPv6 addresses in --listen need brackets;
// - options cannot be abbreviated (getopt accepts any unique prefix, e.g. --thr=2);
// - booleans take no value (--ipv6=false is refused, as getopt does, with the --no- form named);
// - --ident, --server-name, --url-scheme, --url-prefix and --trusted-proxy are checked against
//   the grammar of where they end up (a CR/LF in --ident would split the Server header);
// - --url-prefix=/ means "no prefix" (Waitress keeps "/" as SCRIPT_NAME, which no path can match).
// And more lenient in three harmless ways: options may follow the app argument (GNU style),
// byte sizes take K/M/G suffixes (binary), and --trusted-proxy-headers accepts commas too.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { APP_INTERFACES, type AppInterface } from "./app/interfaces.ts";
import { ACCESS_LOG_FORMATS, ACCESS_LOG_STDERR, type AccessLogFormat } from "./server/access-log.ts";
import { LOG_FORMATS, type LogFormat } from "./server/log.ts";

export type ListenAddress =
  | { kind: "tcp"; host: string; port: number } // host is an IP literal or name, "::" / "0.0.0.0" for wildcards
  | { kind: "unix"; path: string };

export interface Options {
  app: string | null; // MODULE[:OBJECT], positional or --app
  call: boolean;
  /** Which interface the app is written for; "auto" tells from what MODULE:OBJECT names (src/app/detect.ts). */
  interface: AppInterface;
  host: string;
  port: number;
  listen: string[]; // raw --listen values
  ipv4: boolean;
  ipv6: boolean;
  unixSocket: string | null;
  unixSocketPerms: number; // mode bits, e.g. 0o600
  /** Where to listen, derived once from host/port/listen/ipv4/ipv6/unixSocket (Waitress: a unix socket replaces TCP). */
  listeners: ListenAddress[];
  urlScheme: string;
  urlPrefix: string; // normalised: "" or "/x" with no trailing slash
  ident: string;
  serverName: string;
  trustedProxy: string | null;
  trustedProxyCount: number;
  trustedProxyHeaders: string[]; // lower-case names
  logUntrustedProxyHeaders: boolean;
  clearUntrustedProxyHeaders: boolean;
  threads: number;
  backlog: number;
  recvBytes: number;
  sendBytes: number;
  outbufOverflow: number;
  outbufHighWatermark: number;
  inbufOverflow: number;
  connectionLimit: number;
  cleanupInterval: number; // seconds
  channelTimeout: number; // seconds
  channelRequestLookahead: number;
  logSocketErrors: boolean;
  maxRequestHeaderSize: number;
  maxRequestBodySize: number;
  exposeTracebacks: boolean;
  asyncoreLoopTimeout: number; // accepted, no effect
  asyncoreUsePoll: boolean; // accepted, no effect
  /** Beyond Waitress: seconds SIGINT/SIGTERM waits for in-flight requests before exiting. */
  shutdownTimeout: number;
  /** Beyond Waitress: the access log's file, "-" for stderr, null for none (the default). */
  accessLog: string | null;
  accessLogFormat: AccessLogFormat;
  /** Beyond Waitress: tray's own lines as plain text (Waitress's way) or one JSON object each. */
  logFormat: LogFormat;
  /** Beyond Waitress: restart the Workers when files under the app's directory change. */
  reload: boolean;
  /** --help was given: print renderHelp() and exit 0 (nothing else was validated). */
  help: boolean;
  /** --version was given: print the version and exit 0 (nothing else was validated). */
  version: boolean;
  /** Non-fatal notes for stderr (deprecated or implied settings), one line each, no "tray:" prefix. */
  warnings: string[];
}

/** A bad command line or environment: `message` is one sentence for the user; the CLI exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

// ---------------------------------------------------------------------------------------------
// The table.

/** How an option's value is written. "action" options (--help, --version) take no value and have no --no- form. */
export type OptionType = "action" | "bool" | "string" | "int" | "bytes" | "octal" | "list";

export type OptionGroup = "standard" | "proxy" | "tuning" | "logging" | "compat";

/** The fields of Options that options set directly (the rest are derived). */
type SettableKey = Exclude<keyof Options, "listeners" | "warnings">;

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

const UINT_RE = /^[0-9]+$/;
// Binary multiples only: "1M" is 1048576, as Waitress's defaults are (1 MiB, 16 MiB, 512 KiB).
const BYTES_RE = /^([0-9]+)(?:(k|m|g)(?:i?b)?)?$/i;
const BYTE_UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function quote(raw: string): string {
  return JSON.stringify(raw).slice(1, -1) === raw ? `'${raw}'` : JSON.stringify(raw);
}

function intParser(name: string, min: number, max: number, what = "a whole number") {
  return (raw: string): number => {
    const n = UINT_RE.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) {
      throw new UsageError(`--${name} must be ${what} from ${min} to ${max}, not ${quote(raw)}.`);
    }
    return n;
  };
}

function bytesParser(name: string, min: number, max: number) {
  return (raw: string): number => {
    const m = BYTES_RE.exec(raw);
    const n = m ? Number(m[1]) * (m[2] ? BYTE_UNITS[m[2].toLowerCase()] : 1) : NaN;
    if (!(n >= min && n <= max)) {
      throw new UsageError(
        `--${name} must be a number of bytes from ${min} to ${max} (a K, M or G suffix multiplies by 1024, 1024² or 1024³), not ${quote(raw)}.`,
      );
    }
    return n;
  };
}

// A socket's mode: rwx bits only (setuid/setgid/sticky mean nothing on a socket).
const OCTAL_RE = /^(?:0o?)?([0-7]{1,3})$/i;
function octalParser(name: string) {
  return (raw: string): number => {
    const m = OCTAL_RE.exec(raw);
    if (!m) throw new UsageError(`--${name} must be an octal file mode from 000 to 777, such as 600, not ${quote(raw)}.`);
    return parseInt(m[1], 8);
  };
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), case-insensitive.
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;
function parseUrlScheme(raw: string): string {
  if (!SCHEME_RE.test(raw)) {
    throw new UsageError(`--url-scheme must be a URL scheme such as http or https, not ${quote(raw)}.`);
  }
  return raw.toLowerCase();
}

// Waitress's slash_fixed_str: one leading slash, no trailing slashes, "" stays "" — and "/"
// becomes "" here (a SCRIPT_NAME of "/" would make every path lose its first slash).
// RFC 3986 §3.3: a path is pchar and "/"; "?" and "#" end a path, so a prefix holding them,
// spaces or control characters could never match a request.
const PATH_CHARS_RE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
export function normaliseUrlPrefix(raw: string): string {
  const trimmed = raw.trim();
  if (!PATH_CHARS_RE.test(trimmed)) {
    throw new UsageError(`--url-prefix must be a URL path such as /app, without spaces, '?' or '#', not ${quote(raw)}.`);
  }
  const core = trimmed.replace(/^\/+/, "").replace(/\/+$/, "");
  return core === "" ? "" : `/${core}`;
}

// RFC 9110 §5.5: a field value is VCHAR, SP and HTAB; tray sends --ident as the Server header
// (§10.2.4), so CR, LF and other controls are refused, and non-ASCII too (its bytes are ambiguous).
const FIELD_VALUE_RE = /^[\x20-\x7e\t]*$/;
function parseIdent(raw: string): string {
  if (!FIELD_VALUE_RE.test(raw)) {
    throw new UsageError(`--ident must be printable ASCII (it becomes the Server header), not ${JSON.stringify(raw)}.`);
  }
  return raw.trim();
}

// RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name; no port (it is SERVER_NAME).
const REG_NAME_RE = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$/;
function parseServerName(raw: string): string {
  const inner = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : null;
  if (inner !== null ? isIP(inner) === 6 : REG_NAME_RE.test(raw)) return raw;
  throw new UsageError(`--server-name must be a host name such as example.com (no port, no scheme), not ${quote(raw)}.`);
}

function parseApp(raw: string): string {
  if (raw.trim() === "") throw new UsageError(`the app name is empty; name a module, as in 'tray app.ts' or 'tray --app=app.ts:handler'.`);
  return raw;
}

function parseInterface(raw: string): AppInterface {
  const found = APP_INTERFACES.find((name) => name === raw.toLowerCase());
  if (found === undefined) throw new UsageError(`--interface must be auto, fetch or node, not ${quote(raw)}.`);
  return found;
}

function enumParser<T extends string>(name: string, values: readonly T[]) {
  return (raw: string): T => {
    const found = values.find((v) => v === raw.toLowerCase());
    if (found === undefined) throw new UsageError(`--${name} must be ${values.slice(0, -1).join(", ")} or ${values.at(-1)}, not ${quote(raw)}.`);
    return found;
  };
}

function parseAccessLog(raw: string): string {
  if (raw === "" || raw.includes("\0")) {
    throw new UsageError(`--access-log takes a file path or - (standard error), as in --access-log=/var/log/tray/access.log, not ${quote(raw)}.`);
  }
  return raw;
}

function parseNonEmpty(name: string, what: string) {
  return (raw: string): string => {
    if (raw === "" || raw.includes("\0")) throw new UsageError(`--${name} must be ${what}, not ${quote(raw)}.`);
    return raw;
  };
}

/** Canonical text of an IP literal (bare or bracketed IPv6, or IPv4), or null. */
function canonicalIp(raw: string): string | null {
  const bare = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  const family = isIP(bare);
  if (family === 4 && bare === raw) return bare;
  if (family === 6 && !bare.includes("%")) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return null;
}

// Waitress compares this with the peer's address string, so it must be an address: a host name
// would never match. "localhost" is Waitress's peer address for unix-socket connections.
function parseTrustedProxy(raw: string): string {
  if (raw === "*" || raw === "localhost") return raw;
  const ip = canonicalIp(raw);
  if (ip !== null) return ip;
  throw new UsageError(
    `--trusted-proxy must be the proxy's IP address, '*' for any peer, or 'localhost' for unix-socket peers, not ${quote(raw)}.`,
  );
}

/** The proxy headers Waitress knows (waitress/proxy_headers.py PROXY_HEADERS). */
export const PROXY_HEADER_NAMES = [
  "forwarded",
  "x-forwarded-by",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-proto",
] as const;

function parseProxyHeaders(raw: string): string[] {
  const names = raw.split(/[\s,]+/).filter((s) => s !== "").map((s) => s.toLowerCase());
  if (names.length === 0) throw new UsageError(`--trusted-proxy-headers needs at least one header name, such as x-forwarded-proto.`);
  for (const n of names) {
    if (!(PROXY_HEADER_NAMES as readonly string[]).includes(n)) {
      throw new UsageError(
        `--trusted-proxy-headers does not know ${quote(n)}; the names are ${PROXY_HEADER_NAMES.join(", ")}.`,
      );
    }
  }
  return names;
}

// --listen values may also be several whitespace-separated addresses in one argument (Waitress's aslist).
function parseListenList(raw: string): string[] {
  const items = raw.split(/\s+/).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--listen needs an address, as in --listen=127.0.0.1:8080.`);
  return items;
}

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;
// Upper bounds: a value past these is a typo, not a tuning choice.
const PORT_MAX = 65535;
const THREADS_MAX = 1024;
const SECONDS_MAX = 7 * 24 * 3600;
const COUNT_MAX = 1_000_000;
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
    help: "How tray calls the app. fetch: (request, info) => Response, or an object with a fetch method (Hono, Elysia, export default { fetch }). node: a Node-style (req, res) handler — Express, Connect, an http.Server (its 'request' listener), a Koa app (app.callback()), or, with no usable export, the server the module listen()ed on while loading (tray serves it on its own sockets; the app binds no port). auto decides once at start-up and logs its choice: an object with a fetch method is fetch; an http.Server, a Koa app, or a function whose parameters read (req, res) or (req, res, next) is node; any other function is fetch. WebSocket upgrades are not served in either interface. (Not in Waitress.)",
    parse: parseInterface },
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
  int("threads", "threads", 4, 1, THREADS_MAX, "tuning", "Number of Worker threads running the app; each runs many requests concurrently."),
  int("backlog", "backlog", 1024, 1, PORT_MAX, "tuning", "Connection backlog passed to listen()."),
  bytes("recv-bytes", "recvBytes", 8192, 1, "tuning", "Bytes to read from a socket at a time, where the runtime allows choosing.", GIB),
  bytes("outbuf-overflow", "outbufOverflow", 1 * MIB, 0, "tuning", "Pending response output above this many bytes is spilled to a temporary file."),
  bytes("outbuf-high-watermark", "outbufHighWatermark", 16 * MIB, 1, "tuning", "Pause reading the app's response stream while more than this many bytes are waiting to be sent."),
  bytes("inbuf-overflow", "inbufOverflow", 512 * KIB, 0, "tuning", "Request bodies larger than this are buffered in a temporary file instead of memory."),
  int("connection-limit", "connectionLimit", 100, 1, COUNT_MAX, "tuning", "While this many connections are open, new ones wait unserved (never dropped) until one closes."),
  seconds("cleanup-interval", "cleanupInterval", 30, 1, "tuning", "Seconds between sweeps for inactive connections (see --channel-timeout)."),
  seconds("channel-timeout", "channelTimeout", 120, 1, "tuning", "Seconds a connection may be inactive (nothing received and nothing sent) before it is closed."),
  int("channel-request-lookahead", "channelRequestLookahead", 0, 0, COUNT_MAX, "tuning", "Pipelined requests to read ahead while a request is being processed, so that a client that hung up is noticed."),
  bool("log-socket-errors", "logSocketErrors", true, "tuning", "Log premature client disconnects."),
  bytes("max-request-header-size", "maxRequestHeaderSize", 256 * KIB, 1, "tuning", "Largest request head (request line and header fields) accepted; larger gets 431."),
  bytes("max-request-body-size", "maxRequestBodySize", 1 * GIB, 0, "tuning", "Largest request body accepted; larger gets 413."),
  bool("expose-tracebacks", "exposeTracebacks", false, "tuning", "Put the stack trace of an app's uncaught error in the 500 response body."),
  seconds("shutdown-timeout", "shutdownTimeout", 30, 0, "tuning", "On SIGINT or SIGTERM, stop accepting and give running requests this many seconds to finish before exiting. (Not in Waitress.)"),

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

  // Compatibility: accepted so waitress-serve command lines work, no effect in tray.
  { ...bytes("send-bytes", "sendBytes", 1, 1, "compat", "Waitress's socket send size, deprecated there; using it prints a deprecation warning.", GIB), noop: true },
  seconds("asyncore-loop-timeout", "asyncoreLoopTimeout", 1, 0, "compat", "Waitress's asyncore.loop() timeout (tray has no asyncore loop).", { noop: true, metavar: "INT" }),
  bool("asyncore-use-poll", "asyncoreUsePoll", false, "compat", "Waitress's asyncore.loop() use_poll switch (tray has no asyncore loop).", { noop: true }),
]

/** Every option, in --help order. DESIGN.md §2; names and defaults are waitress-serve's unless noted. */
export const OPTION_TABLE: readonly OptionSpec[] = ENTRIES.map(finish);

// ---------------------------------------------------------------------------------------------
// Reading argv.

const BY_NAME = new Map(OPTION_TABLE.map((o) => [o.name, o]));
const BY_SHORT = new Map(OPTION_TABLE.filter((o) => o.short).map((o) => [o.short as string, o]));

/** The value of every option when absent (the default port ignores $PORT). */
export function defaultOptions(): Options {
  const out: Record<string, unknown> = { listeners: [], warnings: [] };
  for (const o of OPTION_TABLE) out[o.key] = Array.isArray(o.default) ? [...o.default] : o.default;
  return out as unknown as Options;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function unknownOption(arg: string): UsageError {
  const name = arg.replace(/^-+/, "").split("=")[0];
  const names = OPTION_TABLE.flatMap((o) => (o.type === "bool" ? [o.name, `no-${o.name}`] : [o.name]));
  let best = "";
  let bestDistance = Infinity;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  const shown = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
  const hint = bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? `; did you mean '--${best}'?` : ".";
  return new UsageError(`unknown option ${quote(shown)}${hint}`);
}

interface Scanned {
  raw: Map<OptionSpec, string[]>; // every value given, in order (bools: "true"/"false")
  positionals: string[];
  help: boolean;
  version: boolean;
  firstError: UsageError | null; // reported only when neither --help nor --version was given
}

function scan(argv: string[]): Scanned {
  const s: Scanned = { raw: new Map(), positionals: [], help: false, version: false, firstError: null };
  const fail = (e: UsageError) => {
    s.firstError ??= e;
  };
  const record = (o: OptionSpec, v: string) => {
    const list = s.raw.get(o) ?? [];
    list.push(v);
    s.raw.set(o, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      s.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      s.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? null : arg.slice(eq + 1);
    let spec = flag.startsWith("--") ? BY_NAME.get(flag.slice(2)) : BY_SHORT.get(flag);
    let negated = false;
    if (!spec && flag.startsWith("--no-")) {
      const base = BY_NAME.get(flag.slice(5));
      if (base?.type === "bool") [spec, negated] = [base, true];
    }
    if (!spec) {
      fail(unknownOption(arg));
      continue;
    }
    if (spec.bare !== undefined && inline === null) {
      record(spec, spec.bare);
      continue;
    }
    if (spec.type === "action" || spec.type === "bool") {
      if (inline !== null) {
        const forms = spec.type === "bool" ? `; write --${spec.name} or --no-${spec.name}` : "";
        fail(new UsageError(`${flag} takes no value${forms}.`));
        continue;
      }
      if (spec.key === "help") s.help = true;
      else if (spec.key === "version") s.version = true;
      else record(spec, negated ? "false" : "true");
      continue;
    }
    // A valued option: --name=VALUE or --name VALUE (as getopt). An option-looking next word is
    // not taken as the value: "--url-prefix --port=1" is a forgotten value, not a prefix.
    let value = inline;
    if (value === null) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        fail(new UsageError(`${flag} needs a value, as in --${spec.name}=${spec.metavar}.`));
        continue;
      }
      value = next;
      i++;
    }
    record(spec, value);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Listen addresses (Waitress: adjustments.py builds `listen` from host:port pairs via getaddrinfo).

/** Longest unix socket path in bytes: sockaddr_un.sun_path less its NUL (108 on Linux, 104 on BSD/macOS). */
const UNIX_PATH_MAX = process.platform === "linux" ? 107 : 103;

// RFC 1123 §2.1 host names: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME_RE = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const ZONE_RE = /^[A-Za-z0-9_.-]+$/;

type HostKind = { family: 4 | 6; address: string } | { family: "name"; name: string } | { family: "wildcard" };

/** Classifies a host written as in --host or --listen; `source` names where it came from for errors. */
function classifyHost(host: string, source: string, bracketsRequired: boolean): HostKind {
  if (host === "*") return { family: "wildcard" };
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    const pct = inner.indexOf("%");
    const addr = pct === -1 ? inner : inner.slice(0, pct);
    if (isIP(addr) === 6 && (pct === -1 || ZONE_RE.test(inner.slice(pct + 1)))) {
      return { family: 6, address: pct === -1 ? (canonicalIp(addr) as string) : `${canonicalIp(addr)}${inner.slice(pct)}` };
    }
    throw new UsageError(`${source} has ${quote(host)}, which is not an IPv6 address in brackets.`);
  }
  if (isIP(host) === 4) return { family: 4, address: host };
  if (isIP(host) === 6 || host.includes(":")) {
    if (!bracketsRequired && isIP(host) === 6) return { family: 6, address: canonicalIp(host) ?? host };
    if (!bracketsRequired) throw new UsageError(`${source} is not an IP address or host name (the port goes in --port).`);
    throw new UsageError(`${source} has ${quote(host)}: write an IPv6 address in brackets, as in [::1]:8080.`);
  }
  if (/^[0-9.]+$/.test(host)) throw new UsageError(`${source} has ${quote(host)}, which is not a valid IPv4 address.`);
  if (HOSTNAME_RE.test(host)) return { family: "name", name: host };
  throw new UsageError(`${source} has ${quote(host)}, which is neither an IP address nor a host name.`);
}

/** Splits one --listen value into host and port (Waitress: rsplit on the last ':'; no ':' means the default port). */
function splitListen(value: string, defaultPort: () => number): { host: string; port: number } {
  const bracketEnd = value.startsWith("[") ? value.indexOf("]") : -1;
  let host = value;
  let portText: string | null = null;
  if (bracketEnd !== -1) {
    host = value.slice(0, bracketEnd + 1);
    const rest = value.slice(bracketEnd + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw new UsageError(`--listen=${value} is not HOST:PORT; after ']' comes ':PORT'.`);
      portText = rest.slice(1);
    }
  } else {
    const colon = value.lastIndexOf(":");
    // More than one ':' without brackets is an unbracketed IPv6 address: classifyHost refuses it.
    if (colon !== -1 && value.indexOf(":") === colon) [host, portText] = [value.slice(0, colon), value.slice(colon + 1)];
  }
  if (host === "") {
    throw new UsageError(`--listen=${value} has no host: write *:${portText ?? "PORT"} for every address, or 127.0.0.1:${portText ?? "PORT"} for this machine only.`);
  }
  if (portText === null) return { host, port: defaultPort() };
  const port = UINT_RE.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= PORT_MAX)) {
    throw new UsageError(`--listen=${value} has port ${quote(portText)}; a port is a whole number from 0 to ${PORT_MAX}.`);
  }
  return { host, port };
}

function tcpListeners(pairs: { host: string; port: number; source: string; brackets: boolean }[], ipv4: boolean, ipv6: boolean): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const p of pairs) {
    const kind = classifyHost(p.host, p.source, p.brackets);
    if (kind.family === "wildcard") {
      if (ipv4) out.push({ kind: "tcp", host: "0.0.0.0", port: p.port });
      if (ipv6) out.push({ kind: "tcp", host: "::", port: p.port });
    } else if (kind.family === "name") {
      out.push({ kind: "tcp", host: kind.name, port: p.port }); // resolved by resolveListenerNames()
    } else {
      if (kind.family === 4 && !ipv4) {
        throw new UsageError(`${p.source} is an IPv4 address but --no-ipv4 was given; use an IPv6 address such as :: instead.`);
      }
      if (kind.family === 6 && !ipv6) {
        throw new UsageError(`${p.source} is an IPv6 address but --no-ipv6 was given; use an IPv4 address such as 0.0.0.0 instead.`);
      }
      out.push({ kind: "tcp", host: kind.address, port: p.port });
    }
  }
  return dedupeListeners(out);
}

/** Drops repeated host:port pairs (Waitress does too); port 0 is never a repeat, each gets its own free port. */
export function dedupeListeners(list: ListenAddress[]): ListenAddress[] {
  const seen = new Set<string>();
  return list.filter((l) => {
    if (l.kind !== "tcp" || l.port === 0) return true;
    const id = `${l.host.split("%")[0]} ${l.port}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (host) => lookup(host, { all: true });

/**
 * Replaces host names in `options.listeners` by every address they resolve to, keeping only the
 * families --ipv4/--ipv6 allow (Waitress binds each getaddrinfo() result). Throws UsageError for a
 * name that does not resolve, or resolves only to disabled families.
 */
export async function resolveListenerNames(options: Options, resolve: HostLookup = systemLookup): Promise<ListenAddress[]> {
  const out: ListenAddress[] = [];
  for (const l of options.listeners) {
    if (l.kind !== "tcp" || isIP(l.host.split("%")[0]) !== 0) {
      out.push(l);
      continue;
    }
    let found: { address: string; family: number }[];
    try {
      found = await resolve(l.host);
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).message;
      throw new UsageError(`cannot listen on ${quote(l.host)}: the name does not resolve (${code}).`);
    }
    const allowed = found.filter((a) => (a.family === 4 ? options.ipv4 : options.ipv6));
    if (allowed.length === 0) {
      throw new UsageError(`cannot listen on ${quote(l.host)}: it resolves to no address of an enabled family (see --ipv4/--ipv6).`);
    }
    for (const a of allowed) out.push({ kind: "tcp", host: a.address, port: l.port });
  }
  return dedupeListeners(out);
}

// ---------------------------------------------------------------------------------------------
// parseOptions

/** Parses argv (without the executable and script) and the environment into Options; throws UsageError. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): Options {
  const s = scan(argv);
  const options = defaultOptions();
  if (s.help || s.version) {
    // --help and --version answer whatever else is on the line, as GNU tools do.
    options.help = s.help;
    options.version = s.version;
    return options;
  }
  if (s.firstError) throw s.firstError;

  const given = (key: SettableKey) => [...s.raw.keys()].some((o) => o.key === key);
  const target = options as unknown as Record<string, unknown>;
  for (const [spec, values] of s.raw) {
    if (spec.type === "bool") {
      target[spec.key] = values[values.length - 1] === "true";
    } else if (spec.repeatable) {
      target[spec.key] = values.flatMap((v) => spec.parse!(v) as string[]);
    } else {
      // The last occurrence wins (getopt and Waitress do the same); every occurrence must be valid.
      for (const v of values) target[spec.key] = spec.parse!(v);
    }
  }

  // The app: positional or --app, exactly once.
  const apps = [...(s.raw.get(BY_NAME.get("app")!) ?? []), ...s.positionals];
  if (apps.length === 0) {
    throw new UsageError(`no app given: name a module, as in 'tray app.ts' or 'tray --app=app.ts:handler'.`);
  }
  if (apps.length > 1) {
    throw new UsageError(`give one app only, not ${apps.map(quote).join(" and ")}.`);
  }
  options.app = parseApp(apps[0]);

  // $PORT (Heroku, Cloud Run, Fly.io...) is the default port: --port overrides it. It is read
  // (and checked) only when a TCP address needs the default port.
  const defaultPort = (): number => {
    const envPort = env.PORT;
    if (given("port") || envPort === undefined || envPort === "") return options.port;
    const n = UINT_RE.test(envPort) ? Number(envPort) : NaN;
    if (!(n >= 0 && n <= PORT_MAX)) {
      throw new UsageError(`the PORT environment variable is ${quote(envPort)}, which is not a port (a whole number from 0 to ${PORT_MAX}).`);
    }
    options.port = n;
    return n;
  };

  // Where to listen (Waitress adjustments.py __init__: the same exclusions).
  if (given("unixSocket")) {
    if (given("host") || given("port") || given("listen")) {
      throw new UsageError(`--unix-socket cannot be combined with --host, --port or --listen: tray listens on the Unix socket alone.`);
    }
    if (process.platform === "win32") throw new UsageError(`--unix-socket is not available on Windows.`);
    const path = options.unixSocket as string;
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw new UsageError(`--unix-socket path is ${Buffer.byteLength(path)} bytes long; the system allows at most ${UNIX_PATH_MAX}, so use a shorter path.`);
    }
    options.listeners = [{ kind: "unix", path }];
  } else {
    if (!options.ipv4 && !options.ipv6) {
      throw new UsageError(`--no-ipv4 and --no-ipv6 together leave no address family to listen on.`);
    }
    if (given("listen")) {
      if (given("host") || given("port")) {
        throw new UsageError(`--listen cannot be combined with --host or --port; put the host and port in --listen instead.`);
      }
      options.listeners = tcpListeners(
        options.listen.map((v) => ({ ...splitListen(v, defaultPort), source: `--listen=${v}`, brackets: true })),
        options.ipv4,
        options.ipv6,
      );
    } else {
      // --host takes a bare IPv6 address too (Waitress builds "host:port" and splits on the last ':').
      options.listeners = tcpListeners(
        [{ host: options.host, port: defaultPort(), source: given("host") ? `--host=${options.host}` : `the default host ${options.host}`, brackets: false }],
        options.ipv4,
        options.ipv6,
      );
    }
  }

  // Proxy settings (Waitress adjustments.py: the same rules, the same implied default).
  if (options.trustedProxy === null) {
    if (given("trustedProxyCount")) throw new UsageError(`--trusted-proxy-count has no meaning without --trusted-proxy.`);
    if (given("trustedProxyHeaders")) throw new UsageError(`--trusted-proxy-headers has no meaning without --trusted-proxy.`);
  } else if (options.trustedProxyHeaders.length === 0) {
    options.trustedProxyHeaders = ["x-forwarded-proto"];
    options.warnings.push(
      `--trusted-proxy was given without --trusted-proxy-headers, so only X-Forwarded-Proto is trusted (as in Waitress); name the headers to trust explicitly.`,
    );
  }
  const headers = [...new Set(options.trustedProxyHeaders)];
  options.trustedProxyHeaders = headers;
  if (headers.includes("forwarded") && headers.length > 1) {
    throw new UsageError(`--trusted-proxy-headers cannot trust both Forwarded and X-Forwarded-* headers; choose one kind.`);
  }

  if (given("accessLogFormat") && options.accessLog === null) {
    throw new UsageError(`--access-log-format has no meaning without --access-log.`);
  }

  if (given("sendBytes")) {
    options.warnings.push(`--send-bytes is deprecated (as in Waitress) and has no effect.`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// --help, generated from the table.

const GROUP_TITLES: Record<OptionGroup, string> = {
  standard: "Standard options",
  proxy: "Proxy options",
  tuning: "Tuning options",
  logging: "Logging and development options (not in Waitress)",
  compat: "Compatibility options (accepted so waitress-serve command lines work)",
};

const HELP_WIDTH = 78;
const HELP_INDENT = "        ";

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

/** The option as written in --help: `--port=PORT`, `--[no-]ipv4`, `-h, --help`. */
export function optionSynopsis(o: OptionSpec): string {
  if (o.type === "bool") return `--[no-]${o.name}`;
  const long = o.type === "action" ? `--${o.name}` : o.bare !== undefined ? `--${o.name}[=${o.metavar}]` : `--${o.name}=${o.metavar}`;
  return o.short ? `${o.short}, ${long}` : long;
}

export function renderHelp(): string {
  const out: string[] = [
    "Usage: tray [OPTIONS] MODULE[:OBJECT]",
    "",
    ...wrap(
      "Serve a fetch-style or Node-style (req, res) app over HTTP/1.1. MODULE is a file relative to the current directory (app.ts, src/server.js; a directory means its index file) or a package name; OBJECT is a dotted path to the app inside it (default: the default export): a function (request, info) => Response, an object with a fetch method, or a Node-style app (see --interface). Options may also be written --name VALUE.",
      "",
    ),
  ];
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    out.push("", `${GROUP_TITLES[group]}:`);
    for (const o of OPTION_TABLE.filter((x) => x.group === group)) {
      out.push("", `    ${optionSynopsis(o)}`);
      const notes = [o.help];
      if (o.noop) notes.push("No effect in tray.");
      if (o.shownDefault !== "") notes.push(`Default: ${o.shownDefault}.`);
      if (o.repeatable) notes.push("May be repeated.");
      out.push(...wrap(notes.join(" "), HELP_INDENT));
    }
  }
  out.push("");
  for (const note of [
    "Byte sizes are whole numbers of bytes, or with a K, M or G suffix for KiB, MiB or GiB.",
    "Environment: PORT, when set, is the default for --port.",
    "Exit status: 0 after a clean shutdown, 2 for a usage error, another non-zero value for other failures.",
  ]) out.push(...wrap(note, ""));
  out.push("");
  return out.join("\n");
}
