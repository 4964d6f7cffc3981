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
//
// Layout: proxy-header-names.ts classifies field names, trusted-proxy.ts decides whom and what
// to believe, proxy-header-values.ts parses the values; this file builds the request's origin
// from them (or returns the 400).

import type { Log } from "./log.ts";
import type { RequestHead } from "../http/parser.ts";
import { ProtocolError } from "../http/errors.ts";
import type { ProxySettings } from "./settings.ts";
import { FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PORT, X_FORWARDED_PROTO, displayNames, proxyHeaderBit } from "./proxy-header-names.ts";
import { isTrustedPeer } from "./trusted-proxy.ts";
import {
  MalformedProxyHeader,
  malformed,
  parseNode,
  parsePort,
  proxyHost,
  readForwarded,
  singleValue,
  splitHostPort,
  trustedHops,
} from "./proxy-header-values.ts";
import type { Vouched } from "./proxy-header-values.ts";
import { parseAuthority } from "../http/authority.ts";
import type { Authority } from "../http/authority.ts";
import { buildUrl, directOrigin, fallbackHost, targetSchemeMismatch } from "./request-origin.ts";
import type { Peer, RequestOrigin } from "./request-origin.ts";

const DEFAULT_PORT: Record<string, string> = { http: "80", https: "443" };

/** Logged values are cut here: the log names the problem, it need not carry a 256 KiB header. */
const MAX_LOGGED_VALUE = 200;

function describePeer(peer: Peer): string {
  return peer.transport === "unix" ? "a unix-socket peer" : peer.address;
}

// --- the entry point -------------------------------------------------------------------------

export function proxyOrigin(head: RequestHead, peer: Peer, options: ProxySettings, log: Log): RequestOrigin | ProtocolError {
  const h = head.headers;
  let present = 0;
  for (let i = 0; i < h.length; i += 2) present |= proxyHeaderBit(h[i]);
  if (present === 0) return directOrigin(head, peer, options.urlScheme, options.serverName, options.urlPrefix);
  return proxiedOrigin(head, peer, options, log, present);
}

/** A request carrying proxy headers (`present` bits): believe them, or remove them, or both. */
function proxiedOrigin(head: RequestHead, peer: Peer, options: ProxySettings, log: Log, present: number): RequestOrigin | ProtocolError {
  const trustedPeer = isTrustedPeer(peer, options.trustedProxy);
  const trusted = trustedPeer ? present & options.trustedHeaderBits : 0;
  let origin: RequestOrigin;
  if (trusted === 0) {
    const direct = directOrigin(head, peer, options.urlScheme, options.serverName, options.urlPrefix);
    if (direct instanceof ProtocolError) return direct;
    origin = direct;
  } else {
    const vouched = readTrusted(head, peer, options, trusted);
    if (vouched instanceof MalformedProxyHeader) {
      const v = vouched.value.length > MAX_LOGGED_VALUE ? `${vouched.value.slice(0, MAX_LOGGED_VALUE)}...` : vouched.value;
      log(`400 for ${describePeer(peer)}: ${vouched.message}; the value was ${JSON.stringify(v)}`, "warning");
      return vouched;
    }
    if (vouched instanceof ProtocolError) return vouched;
    origin = vouched;
  }

  const untrusted = present & ~trusted;
  if (untrusted !== 0) {
    if (options.logUntrustedProxyHeaders) {
      const what = options.clearUntrustedProxyHeaders ? "removed" : "passed to the app (--no-clear-untrusted-proxy-headers)";
      const why = trustedPeer ? "not named by --trusted-proxy-headers; the proxy should drop them" : "the peer is not --trusted-proxy";
      log(`Untrusted proxy headers from ${describePeer(peer)} ${what}: ${displayNames(untrusted)} (${why})`, "warning");
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

function readTrusted(head: RequestHead, peer: Peer, options: ProxySettings, trusted: number): RequestOrigin | ProtocolError {
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
    for (let i = hosts.length - 1; i >= 0; i--) {
      const authority = proxyHost(hosts[i]);
      if (authority === null) return malformed("X-Forwarded-Host", xHost, "not a host[:port]");
      said.host = authority;
    }
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

function applyVouched(head: RequestHead, peer: Peer, options: ProxySettings, said: Vouched): RequestOrigin | ProtocolError {
  const scheme = said.proto ?? options.urlScheme;
  const mismatch = targetSchemeMismatch(head, scheme);
  if (mismatch !== null) return mismatch;
  let host: Authority;
  if (said.host !== null) {
    // Waitress: a port in the forwarded host wins over X-Forwarded-Port.
    host = splitHostPort(said.host)[1] !== null || said.port === null ? said.host : withPort(said.host, said.port, scheme);
  } else {
    const authority = head.authority ?? fallbackHost(options.serverName, scheme, peer.localPort);
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

/** hostname (from an Authority) with a vouched port (1-65535): an authority by the same rule. */
function withPort(hostname: string, port: string, scheme: string): Authority {
  const value = DEFAULT_PORT[scheme] === port ? hostname : `${hostname}:${port}`;
  const authority = parseAuthority(value);
  if (authority === null) throw new Error(`bug: ${JSON.stringify(value)} is not an authority though its parts are`);
  return authority;
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
