// A trusted proxy's field values, parsed: X-Forwarded-For / -Host hop lists, -Proto / -Port single
// values, and RFC 7239 Forwarded, into what the proxy vouched for (Vouched) or the 400 naming the
// header (MalformedProxyHeader).
// Strategy: plain functions over strings; nothing here sees the request, or the options beyond
// --trusted-proxy-count. A list is cut to its last `count` items (the ones trusted proxies
// wrote) and each of those must be what it claims: an IP address (RFC 7239 §6 node), a
// host[:port] (RFC 9110 §7.2) or a port (RFC 3986 §3.2.3), each maybe a quoted-string
// (RFC 9110 §5.6.4). Forwarded is first parsed whole by one left-to-right scan over its
// RFC 7239 §4 grammar, then its trusted elements are read right to left into the Vouched.

import { isIP } from "node:net";
import { ProtocolError } from "../http/errors.ts";
import { TCHAR, QDTEXT, QUOTED_PAIR_CHAR, trimOWS } from "../http/grammar.ts";
import { MAX_PORT, parseAuthority } from "../http/authority.ts";
import type { Authority } from "../http/authority.ts";

interface HopAddress {
  address: string;
  family: "IPv4" | "IPv6";
  port: number | null;
}

/** What a trusted proxy said, before it is applied to the URL and the client address. */
export interface Vouched {
  client: HopAddress | null;
  host: Authority | null;
  proto: string | null;
  port: string | null;
}

/** A trusted proxy's value tray cannot believe: a 400 for the client, the value for the log. */
export class MalformedProxyHeader extends ProtocolError {
  constructor(
    readonly header: string,
    readonly value: string,
    reason: string,
  ) {
    super(400, `Malformed ${header} header: ${reason}`);
  }
}

export function malformed(header: string, value: string, reason: string): MalformedProxyHeader {
  return new MalformedProxyHeader(header, value, reason);
}

/** RFC 3986 §3.2.3 port, as a TCP port: 1 to MAX_PORT. */
const MAX_PORT_DIGITS = 5;

/** Waitress raises for "multiple values" in -Proto and -Port: one line, one value, maybe quoted. */
export function singleValue(header: string, raw: string, lines: number): string | MalformedProxyHeader {
  if (lines > 1) return malformed(header, raw, "several field lines where one value is allowed");
  const v = unquote(trimOWS(raw));
  if (v === null) return malformed(header, raw, "badly quoted");
  if (v.includes(",")) return malformed(header, raw, "several values where one is allowed");
  return v;
}

/** The last `count` comma-separated, optionally quoted items (the ones trusted proxies wrote), or null if one is empty or badly quoted. */
export function trustedHops(value: string, count: number): string[] | null {
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

export function splitHostPort(authority: string): [string, string | null] {
  if (authority.charCodeAt(0) === 0x5b) {
    const end = authority.indexOf("]");
    return end >= 0 && authority.charCodeAt(end + 1) === 0x3a ? [authority.slice(0, end + 1), authority.slice(end + 2)] : [authority, null];
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 ? [authority, null] : [authority.slice(0, colon), authority.slice(colon + 1)];
}

/** A host[:port] a proxy vouched for: the rule Host obeys (http/authority.ts, which builds
 *  request.url), and a port, if written, of 1 to 65535; else null. */
export function proxyHost(value: string): Authority | null {
  const authority = parseAuthority(value);
  if (authority === null) return null;
  const port = splitHostPort(value)[1];
  return port === null || parsePort(port) !== null ? authority : null;
}

export function parsePort(s: string): number | null {
  if (s.length === 0 || s.length > MAX_PORT_DIGITS) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const n = Number(s);
  return n >= 1 && n <= MAX_PORT ? n : null;
}

/** A zone id names a network interface: Linux's IFNAMSIZ is 16 bytes with the NUL, and a
 *  numeric index is at most 10 digits, so 15 bounds both (RFC 6874 §2 sets no limit). */
export const MAX_ZONE_ID_LENGTH = 15;

/** RFC 6874 §2 ZoneID = 1*( unreserved / pct-encoded ), held to unreserved (interface names and
 *  numbers are written so) and to MAX_ZONE_ID_LENGTH. */
const ZONE_ID_RE = new RegExp(`^[A-Za-z0-9\\-._~]{1,${MAX_ZONE_ID_LENGTH}}$`);

/** isIP() takes an IPv6 address with any zone id ("fe80::1%" + 5,000 chars): bound and check it. */
function isIPv6Address(s: string): boolean {
  if (isIP(s) !== 6) return false;
  const zone = s.indexOf("%");
  return zone < 0 || ZONE_ID_RE.test(s.slice(zone + 1));
}

/**
 * A hop's address: IPv4 or "[IPv6]", each with an optional ":port" (RFC 7239 §6 node, without
 * "unknown" and obfuscated names: tray reports the client's address, and those are not one).
 * X-Forwarded-For also carries bare IPv6 addresses (no port then).
 */
export function parseNode(s: string, bareIPv6: boolean): HopAddress | null {
  if (s.charCodeAt(0) === 0x5b) {
    const end = s.indexOf("]");
    if (end < 0) return null;
    const address = s.slice(1, end);
    if (!isIPv6Address(address)) return null;
    if (end === s.length - 1) return { address, family: "IPv6", port: null };
    if (s.charCodeAt(end + 1) !== 0x3a) return null;
    const port = parsePort(s.slice(end + 2));
    return port === null ? null : { address, family: "IPv6", port };
  }
  const kind = isIP(s);
  if (kind === 4) return { address: s, family: "IPv4", port: null };
  if (kind === 6) return bareIPv6 && isIPv6Address(s) ? { address: s, family: "IPv6", port: null } : null;
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
export function readForwarded(value: string, count: number, said: Vouched): MalformedProxyHeader | null {
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
      const authority = proxyHost(host);
      if (authority === null) return malformed("Forwarded", value, "host= is not a host[:port]");
      said.host = authority;
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
