// Trusted proxy headers: Waitress 3's proxy_headers.py, stricter where a value cannot be what it
// claims. Called for every request, so the common case is one pass over the field names with no
// allocation: when no proxy header is present the direct origin is returned as is.
//
// Strategy: classify each field name by length and bytes into one of six proxy headers (a bit
// each). A peer that does not match --trusted-proxy ('*' = any; 'localhost' = a unix-socket
// peer, Waitress's REMOTE_ADDR for those) has every proxy header removed (and logged when asked).
// A trusted peer's trusted headers are read: X-Forwarded-For / Forwarded for= are walked right
// to left for --trusted-proxy-count hops and the leftmost trusted hop is the client;
// -Proto / proto= give the scheme, -Host / host= the host, -Port the port; -By is kept for the
// app. Values the proxy could not have meant (a hop that is not an IP address, a bad port or
// host, a scheme other than http/https, two values where one is allowed) are a 400 naming the
// header; Waitress passes some of these to the app as REMOTE_ADDR or SERVER_PORT.

import { isIP } from "node:net";
import type { RequestHead } from "../http/parser.ts";
import { ProtocolError } from "../http/errors.ts";
import { TCHAR, QDTEXT, QUOTED_PAIR_CHAR, isValidHost, trimOWS } from "../http/grammar.ts";
import type { Options } from "../options/types.ts";
import { buildUrl, directOrigin, fallbackHost } from "./request-origin.ts";
import type { Peer, RequestOrigin } from "./request-origin.ts";

// One bit per proxy header (options.ts PROXY_HEADER_NAMES).
const FORWARDED = 1;
const X_FORWARDED_BY = 2;
const X_FORWARDED_FOR = 4;
const X_FORWARDED_HOST = 8;
const X_FORWARDED_PORT = 16;
const X_FORWARDED_PROTO = 32;

const BIT_OF_NAME: Record<string, number> = {
  forwarded: FORWARDED,
  "x-forwarded-by": X_FORWARDED_BY,
  "x-forwarded-for": X_FORWARDED_FOR,
  "x-forwarded-host": X_FORWARDED_HOST,
  "x-forwarded-port": X_FORWARDED_PORT,
  "x-forwarded-proto": X_FORWARDED_PROTO,
};

/** The names as they are written in logs and 400 bodies, in this order. */
const DISPLAY_NAMES: [number, string][] = [
  [FORWARDED, "Forwarded"],
  [X_FORWARDED_BY, "X-Forwarded-By"],
  [X_FORWARDED_FOR, "X-Forwarded-For"],
  [X_FORWARDED_HOST, "X-Forwarded-Host"],
  [X_FORWARDED_PORT, "X-Forwarded-Port"],
  [X_FORWARDED_PROTO, "X-Forwarded-Proto"],
];

/** RFC 3986 §3.2.3 port, as a TCP port: 1 to 65535. */
const MAX_PORT = 65535;
const MAX_PORT_DIGITS = 5;

const DEFAULT_PORT: Record<string, string> = { http: "80", https: "443" };

/** Equal to `lower` ignoring ASCII case; `lower` is lower-case and the lengths already match. */
function sameName(name: string, lower: string, from: number): boolean {
  for (let i = from; i < lower.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The lengths of the six names (9, 14, 15, 16, 17) as bits: most field names are ruled out by length alone. */
const NAME_LENGTHS = (1 << 9) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17);

/** Which proxy header a field name is (its bit), or 0. No allocation: runs on every field. */
export function proxyHeaderBit(name: string): number {
  const n = name.length;
  if (n > 17 || ((NAME_LENGTHS >> n) & 1) === 0) return 0;
  const c = name.charCodeAt(0) | 0x20;
  if (n === 9) return c === 0x66 && sameName(name, "forwarded", 1) ? FORWARDED : 0; // "f"
  if (c !== 0x78 || !sameName(name, "x-forwarded-", 1)) return 0; // "x"
  switch (n) {
    case 14:
      return sameName(name, "x-forwarded-by", 12) ? X_FORWARDED_BY : 0;
    case 15:
      return sameName(name, "x-forwarded-for", 12) ? X_FORWARDED_FOR : 0;
    case 16:
      return sameName(name, "x-forwarded-host", 12) ? X_FORWARDED_HOST : sameName(name, "x-forwarded-port", 12) ? X_FORWARDED_PORT : 0;
    case 17:
      return sameName(name, "x-forwarded-proto", 12) ? X_FORWARDED_PROTO : 0;
  }
  return 0;
}

function displayNames(bits: number): string {
  const names: string[] = [];
  for (const [bit, name] of DISPLAY_NAMES) if ((bits & bit) !== 0) names.push(name);
  return names.join(", ");
}

function describePeer(peer: Peer): string {
  return peer.transport === "unix" ? "a unix-socket peer" : peer.address;
}

// --- which peers are believed ----------------------------------------------------------------

/** The trusted header bits per Options object (computed once; options never change while serving). */
const trustedBitsCache = new WeakMap<Options, number>();

function trustedBitsOf(options: Options): number {
  let bits = trustedBitsCache.get(options);
  if (bits === undefined) {
    bits = 0;
    for (const name of options.trustedProxyHeaders) bits |= BIT_OF_NAME[name] ?? 0;
    trustedBitsCache.set(options, bits);
  }
  return bits;
}

/** Peers whose address string differs from --trusted-proxy only in spelling (IPv4-mapped, IPv6 case). */
const canonicalCache = new WeakMap<Peer, string>();

function canonicalAddress(peer: Peer): string {
  let c = canonicalCache.get(peer);
  if (c === undefined) {
    const a = peer.address;
    // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
    if (a.toLowerCase().startsWith("::ffff:") && isIP(a.slice(7)) === 4) c = a.slice(7);
    else if (isIP(a) === 6) c = new URL(`http://[${a}]/`).hostname.slice(1, -1);
    else c = a;
    canonicalCache.set(peer, c);
  }
  return c;
}

/** Waitress: `trusted_proxy == "*" or REMOTE_ADDR == trusted_proxy`; REMOTE_ADDR is "localhost" for unix sockets. */
export function isTrustedPeer(peer: Peer, trustedProxy: string | null): boolean {
  if (trustedProxy === null) return false;
  if (trustedProxy === "*") return true;
  if (peer.transport === "unix") return trustedProxy === "localhost";
  if (peer.address === trustedProxy) return true;
  return peer.address.includes(":") && canonicalAddress(peer) === trustedProxy;
}

// --- the entry point -------------------------------------------------------------------------

export function proxyOrigin(head: RequestHead, peer: Peer, options: Options, log: (line: string) => void): RequestOrigin | ProtocolError {
  const h = head.headers;
  let present = 0;
  for (let i = 0; i < h.length; i += 2) present |= proxyHeaderBit(h[i]);
  if (present === 0) return directOrigin(head, peer, options.urlScheme, options.serverName, options.urlPrefix);
  return proxiedOrigin(head, peer, options, log, present);
}

/** A request carrying proxy headers (`present` bits): believe them, or remove them, or both. */
function proxiedOrigin(head: RequestHead, peer: Peer, options: Options, log: (line: string) => void, present: number): RequestOrigin | ProtocolError {
  const trustedPeer = isTrustedPeer(peer, options.trustedProxy);
  const trusted = trustedPeer ? present & trustedBitsOf(options) : 0;
  let origin: RequestOrigin;
  if (trusted === 0) {
    origin = directOrigin(head, peer, options.urlScheme, options.serverName, options.urlPrefix);
  } else {
    const vouched = readTrusted(head, peer, options, trusted);
    if (vouched instanceof MalformedProxyHeader) {
      const v = vouched.value.length > MAX_LOGGED_VALUE ? `${vouched.value.slice(0, MAX_LOGGED_VALUE)}...` : vouched.value;
      log(`400 for ${describePeer(peer)}: ${vouched.message}; the value was ${JSON.stringify(v)}`);
      return vouched;
    }
    origin = vouched;
  }

  const untrusted = present & ~trusted;
  if (untrusted !== 0) {
    if (options.logUntrustedProxyHeaders) {
      const what = options.clearUntrustedProxyHeaders ? "removed" : "passed to the app (--no-clear-untrusted-proxy-headers)";
      const why = trustedPeer ? "not named by --trusted-proxy-headers; the proxy should drop them" : "the peer is not --trusted-proxy";
      log(`Untrusted proxy headers from ${describePeer(peer)} ${what}: ${displayNames(untrusted)} (${why})`);
    }
    if (options.clearUntrustedProxyHeaders) origin.headers = withoutFields(origin.headers, untrusted);
  }
  return origin;
}

function withoutFields(h: string[], bits: number): string[] {
  const kept: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    if ((proxyHeaderBit(h[i]) & bits) === 0) kept.push(h[i], h[i + 1]);
  }
  return kept;
}

// --- reading a trusted proxy's headers -------------------------------------------------------

interface HopAddress {
  address: string;
  family: "IPv4" | "IPv6";
  port: number | null;
}

/** What a trusted proxy said, before it is applied to the URL and the client address. */
interface Vouched {
  client: HopAddress | null;
  host: string | null;
  proto: string | null;
  port: string | null;
}

/** A trusted proxy's value tray cannot believe: a 400 for the client, the value for the log. */
class MalformedProxyHeader extends ProtocolError {
  constructor(
    readonly header: string,
    readonly value: string,
    reason: string,
  ) {
    super(400, `Malformed ${header} header: ${reason}`);
  }
}

/** Logged values are cut here: the log names the problem, it need not carry a 256 KiB header. */
const MAX_LOGGED_VALUE = 200;

function malformed(header: string, value: string, reason: string): MalformedProxyHeader {
  return new MalformedProxyHeader(header, value, reason);
}

function readTrusted(head: RequestHead, peer: Peer, options: Options, trusted: number): RequestOrigin | MalformedProxyHeader {
  // RFC 9110 §5.3: several field lines of one name are one comma-separated list, in order.
  let forwarded: string | null = null;
  let xFor: string | null = null;
  let xHost: string | null = null;
  let xProto: string | null = null;
  let xPort: string | null = null;
  let protoLines = 0;
  let portLines = 0;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const bit = proxyHeaderBit(h[i]) & trusted;
    if (bit === 0) continue;
    const v = h[i + 1];
    if (bit === FORWARDED) forwarded = forwarded === null ? v : `${forwarded}, ${v}`;
    else if (bit === X_FORWARDED_FOR) xFor = xFor === null ? v : `${xFor}, ${v}`;
    else if (bit === X_FORWARDED_HOST) xHost = xHost === null ? v : `${xHost}, ${v}`;
    else if (bit === X_FORWARDED_PROTO) {
      xProto = v;
      protoLines++;
    } else if (bit === X_FORWARDED_PORT) {
      xPort = v;
      portLines++;
    }
  }

  const count = options.trustedProxyCount;
  const said: Vouched = { client: null, host: null, proto: null, port: null };
  if (forwarded !== null) {
    const err = readForwarded(forwarded, count, said);
    if (err !== null) return err;
  }
  if (xFor !== null) {
    const hops = trustedHops(xFor, count);
    if (hops === null) return malformed("X-Forwarded-For", xFor, "a hop is empty or badly quoted");
    // Every hop a trusted proxy appended is checked; the leftmost of them is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      const node = parseNode(hops[i], true);
      if (node === null) return malformed("X-Forwarded-For", xFor, "a hop is not an IP address");
      said.client = node;
    }
  }
  if (xHost !== null) {
    const hosts = trustedHops(xHost, count);
    if (hosts === null) return malformed("X-Forwarded-Host", xHost, "a host is empty or badly quoted");
    for (const host of hosts) if (!isProxyHost(host)) return malformed("X-Forwarded-Host", xHost, "not a host[:port]");
    said.host = hosts[0];
  }
  if (xProto !== null) {
    const proto = singleValue("X-Forwarded-Proto", xProto, protoLines);
    if (typeof proto !== "string") return proto;
    const scheme = proto.toLowerCase();
    if (scheme !== "http" && scheme !== "https") return malformed("X-Forwarded-Proto", xProto, "the scheme must be http or https");
    said.proto = scheme;
  }
  if (xPort !== null) {
    const port = singleValue("X-Forwarded-Port", xPort, portLines);
    if (typeof port !== "string") return port;
    const n = parsePort(port);
    if (n === null) return malformed("X-Forwarded-Port", xPort, "not a port number from 1 to 65535");
    said.port = String(n);
  }
  return applyVouched(head, peer, options, said);
}

/** Waitress raises for "multiple values" in -Proto and -Port: one line, one value, maybe quoted. */
function singleValue(header: string, raw: string, lines: number): string | MalformedProxyHeader {
  if (lines > 1) return malformed(header, raw, "several field lines where one value is allowed");
  const v = unquote(trimOWS(raw));
  if (v === null) return malformed(header, raw, "badly quoted");
  if (v.includes(",")) return malformed(header, raw, "several values where one is allowed");
  return v;
}

/** The last `count` comma-separated, optionally quoted items (the ones trusted proxies wrote), or null if one is empty or badly quoted. */
function trustedHops(value: string, count: number): string[] | null {
  const items = value.split(",");
  const from = Math.max(0, items.length - count);
  const out: string[] = [];
  for (let i = from; i < items.length; i++) {
    const item = unquote(trimOWS(items[i]));
    if (item === null || item === "") return null;
    out.push(item);
  }
  return out;
}

function applyVouched(head: RequestHead, peer: Peer, options: Options, said: Vouched): RequestOrigin {
  const scheme = said.proto ?? options.urlScheme;
  let host: string;
  if (said.host !== null) {
    // Waitress: a port in the forwarded host wins over X-Forwarded-Port.
    host = splitHostPort(said.host)[1] !== null || said.port === null ? said.host : withPort(said.host, said.port, scheme);
  } else {
    const authority = head.authority !== null && head.authority !== "" ? head.authority : fallbackHost(options.serverName, scheme, peer.localPort);
    host = said.port === null ? authority : withPort(splitHostPort(authority)[0], said.port, scheme);
  }

  let headers = head.headers;
  if (said.host !== null || said.port !== null) headers = withHost(headers, host);

  const c = said.client;
  return {
    url: buildUrl(scheme, host, head.path, options.urlPrefix),
    headers,
    remote: c === null ? { hostname: peer.address, port: peer.port, transport: peer.transport } : { hostname: c.address, port: c.port ?? peer.port, transport: "tcp" },
    family: c === null ? peer.family : c.family,
  };
}

function withPort(hostname: string, port: string, scheme: string): string {
  return DEFAULT_PORT[scheme] === port ? hostname : `${hostname}:${port}`;
}

/** The app's Host agrees with request.url's authority (Waitress sets HTTP_HOST likewise). */
function withHost(h: string[], host: string): string[] {
  const out: string[] = [];
  let replaced = false;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i].length === 4 && h[i].toLowerCase() === "host") {
      if (!replaced) out.push(h[i], host);
      replaced = true;
    } else out.push(h[i], h[i + 1]);
  }
  if (!replaced) out.push("Host", host);
  return out;
}

function splitHostPort(authority: string): [string, string | null] {
  if (authority.charCodeAt(0) === 0x5b) {
    const end = authority.indexOf("]");
    return end >= 0 && authority.charCodeAt(end + 1) === 0x3a ? [authority.slice(0, end + 1), authority.slice(end + 2)] : [authority, null];
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 ? [authority, null] : [authority.slice(0, colon), authority.slice(colon + 1)];
}

/** RFC 9110 §7.2 Host syntax with a non-empty host and, if a port is given, a real one. */
function isProxyHost(value: string): boolean {
  if (!isValidHost(value)) return false;
  const [name, port] = splitHostPort(value);
  return name !== "" && (port === null || parsePort(port) !== null);
}

function parsePort(s: string): number | null {
  if (s.length === 0 || s.length > MAX_PORT_DIGITS) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const n = Number(s);
  return n >= 1 && n <= MAX_PORT ? n : null;
}

/**
 * A hop's address: IPv4 or "[IPv6]", each with an optional ":port" (RFC 7239 §6 node, without
 * "unknown" and obfuscated names: tray reports the client's address, and those are not one).
 * X-Forwarded-For also carries bare IPv6 addresses (no port then).
 */
function parseNode(s: string, bareIPv6: boolean): HopAddress | null {
  if (s.charCodeAt(0) === 0x5b) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    const address = s.slice(1, end);
    if (isIP(address) !== 6) return null;
    if (end === s.length - 1) return { address, family: "IPv6", port: null };
    if (s.charCodeAt(end + 1) !== 0x3a) return null;
    const port = parsePort(s.slice(end + 2));
    return port === null ? null : { address, family: "IPv6", port };
  }
  const kind = isIP(s);
  if (kind === 4) return { address: s, family: "IPv4", port: null };
  if (kind === 6) return bareIPv6 ? { address: s, family: "IPv6", port: null } : null;
  const colon = s.indexOf(":");
  if (colon < 0 || s.indexOf(":", colon + 1) >= 0) return null;
  const address = s.slice(0, colon);
  const port = parsePort(s.slice(colon + 1));
  return isIP(address) === 4 && port !== null ? { address, family: "IPv4", port } : null;
}

/** A value that may be an RFC 9110 §5.6.4 quoted-string; null when the quoting is broken. */
function unquote(s: string): string | null {
  if (s.charCodeAt(0) !== 0x22) return s.includes('"') ? null : s;
  return readQuoted(s, 0)?.[0] ?? null;
}

/** Reads the quoted-string starting at s[at] (a DQUOTE): [content, index after the closing quote]. */
function readQuoted(s: string, at: number): [string, number] | null {
  let out = "";
  for (let i = at + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return [out, i + 1];
    if (c === 0x5c) {
      i++;
      if (i >= s.length || QUOTED_PAIR_CHAR[s.charCodeAt(i)] !== 1) return null;
      out += s[i];
    } else if (QDTEXT[c] === 1) out += s[i];
    else return null;
  }
  return null;
}

// --- Forwarded (RFC 7239) --------------------------------------------------------------------

/**
 * RFC 7239 §4: Forwarded = 1#forwarded-element; forwarded-element = [ forwarded-pair ]
 * *( ";" [ forwarded-pair ] ); forwarded-pair = token "=" value; value = token / quoted-string.
 * The whole field must parse (a proxy's element cannot be found in a list that does not); the
 * last `count` elements are the trusted ones, and as in Waitress the oldest of them that carries
 * for= / host= / proto= supplies each.
 */
function readForwarded(value: string, count: number, said: Vouched): MalformedProxyHeader | null {
  const elements: Map<string, string>[] = [];
  let element = new Map<string, string>();
  let i = 0;
  const n = value.length;
  const ows = () => {
    while (i < n && (value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
  };
  ows();
  for (;;) {
    if (i < n && TCHAR[value.charCodeAt(i)] === 1) {
      const start = i;
      while (i < n && TCHAR[value.charCodeAt(i)] === 1) i++;
      const name = value.slice(start, i).toLowerCase();
      if (value.charCodeAt(i) !== 0x3d) return malformed("Forwarded", value, "a parameter has no '=value'");
      i++;
      let v: string;
      if (value.charCodeAt(i) === 0x22) {
        const q = readQuoted(value, i);
        if (q === null) return malformed("Forwarded", value, "a quoted value is not terminated or has a bad character");
        [v, i] = q;
      } else {
        const vs = i;
        while (i < n && TCHAR[value.charCodeAt(i)] === 1) i++;
        if (i === vs) return malformed("Forwarded", value, "a parameter has an empty value");
        v = value.slice(vs, i);
      }
      // RFC 7239 §4: each parameter MUST NOT occur more than once per forwarded-element.
      if (element.has(name)) return malformed("Forwarded", value, `${name}= appears twice in one element`);
      element.set(name, v);
    }
    if (i >= n) break;
    const c = value.charCodeAt(i);
    if (c === 0x3b) {
      i++;
      continue;
    }
    ows();
    if (i >= n) break;
    if (value.charCodeAt(i) !== 0x2c) return malformed("Forwarded", value, "unexpected character between parameters");
    // RFC 9110 §5.6.1: empty list elements are ignored.
    if (element.size > 0) elements.push(element);
    element = new Map();
    i++;
    ows();
  }
  if (element.size > 0) elements.push(element);

  for (let e = elements.length - 1; e >= Math.max(0, elements.length - count); e--) {
    const el = elements[e];
    const forValue = el.get("for");
    if (forValue !== undefined) {
      const node = parseNode(forValue, false);
      if (node === null) return malformed("Forwarded", value, "for= is not an IP address (IPv6 as \"[addr]\")");
      said.client = node;
    }
    const host = el.get("host");
    if (host !== undefined) {
      if (!isProxyHost(host)) return malformed("Forwarded", value, "host= is not a host[:port]");
      said.host = host;
    }
    const proto = el.get("proto");
    if (proto !== undefined) {
      const scheme = proto.toLowerCase();
      if (scheme !== "http" && scheme !== "https") return malformed("Forwarded", value, "proto= must be http or https");
      said.proto = scheme;
    }
  }
  return null;
}
