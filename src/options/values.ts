// Value parsers: one raw command-line string in, the option's typed value out, or a UsageError.
// Strategy: each parser checks a value against the grammar of where it ends up (RFC 3986 for
// schemes, paths and hosts; RFC 9110 for header field values), so a bad value is refused at
// start-up with one sentence naming the option, the value and what is accepted, never later at
// request time. Parsers are plain functions, or factories taking the option's name and range
// for the message; OPTION_TABLE (table.ts) attaches one to each valued option.
import { canonicalIp } from "../http/ip-address.ts";
import { isIP } from "node:net";
import { UsageError, quote } from "./usage-error.ts";
import { parseAuthority } from "../http/authority.ts";

export const UINT_RE = /^[0-9]+$/;
// Binary multiples only: "1M" is 1048576, as Waitress's defaults are (1 MiB, 16 MiB, 512 KiB).
const BYTES_RE = /^([0-9]+)(?:(k|m|g)(?:i?b)?)?$/i;
const BYTE_UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

export function intParser(name: string, min: number, max: number, what = "a whole number") {
  return (raw: string): number => {
    const n = UINT_RE.test(raw) ? Number(raw) : NaN;
    if (!(n >= min && n <= max)) {
      throw new UsageError(`--${name} must be ${what} from ${min} to ${max}, not ${quote(raw)}.`);
    }
    return n;
  };
}

export function bytesParser(name: string, min: number, max: number) {
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
export function octalParser(name: string) {
  return (raw: string): number => {
    const m = OCTAL_RE.exec(raw);
    if (!m) throw new UsageError(`--${name} must be an octal file mode from 000 to 777, such as 600, not ${quote(raw)}.`);
    return parseInt(m[1], 8);
  };
}

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), case-insensitive.
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;
export function parseUrlScheme(raw: string): string {
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
export function parseIdent(raw: string): string {
  if (!FIELD_VALUE_RE.test(raw)) {
    throw new UsageError(`--ident must be printable ASCII (it becomes the Server header), not ${JSON.stringify(raw)}.`);
  }
  return raw.trim();
}

// RFC 3986 §3.2.2: host = IP-literal / IPv4address / reg-name; no port (it is SERVER_NAME). It is
// request.url's host when a request names none, so it obeys the rule Host does (http/authority.ts).
export function parseServerName(raw: string): string {
  if (!raw.includes(":") || (raw.startsWith("[") && raw.endsWith("]"))) {
    if (parseAuthority(raw) !== null) return raw;
  }
  throw new UsageError(`--server-name must be a host name such as example.com (no port, no scheme), not ${quote(raw)}.`);
}

export function parseApp(raw: string): string {
  if (raw.trim() === "") throw new UsageError(`the app name is empty; name a module, as in 'tray app.ts' or 'tray --app=app.ts:handler'.`);
  return raw;
}

export function enumParser<T extends string>(name: string, values: readonly T[]) {
  return (raw: string): T => {
    const found = values.find((v) => v === raw.toLowerCase());
    if (found === undefined) throw new UsageError(`--${name} must be ${values.slice(0, -1).join(", ")} or ${values.at(-1)}, not ${quote(raw)}.`);
    return found;
  };
}

export function parseAccessLog(raw: string): string {
  if (raw === "" || raw.includes("\0")) {
    throw new UsageError(`--access-log takes a file path or - (standard error), as in --access-log=/var/log/tray/access.log, not ${quote(raw)}.`);
  }
  return raw;
}

export function parseNonEmpty(name: string, what: string) {
  return (raw: string): string => {
    if (raw === "" || raw.includes("\0")) throw new UsageError(`--${name} must be ${what}, not ${quote(raw)}.`);
    return raw;
  };
}


// Waitress compares this with the peer's address string, so it must be an address: a host name
// would never match. "localhost" is Waitress's peer address for unix-socket connections.
export function parseTrustedProxy(raw: string): string {
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

export function parseProxyHeaders(raw: string): string[] {
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
export function parseListenList(raw: string): string[] {
  const items = raw.split(/\s+/).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`--listen needs an address, as in --listen=127.0.0.1:8080.`);
  return items;
}
