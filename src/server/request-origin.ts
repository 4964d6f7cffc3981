// Where a request came from and what URL the app sees (DESIGN.md §1): the scheme (--url-scheme),
// the host (Host / absolute-form authority, else --server-name), the path with --url-prefix
// removed (Waitress's SCRIPT_NAME / PATH_INFO split), and the client address.
// Trusted proxy headers, when configured, override these (proxy-headers.ts). The URL is built only
// from an authority the parser's rule accepted (http/authority.ts), so the Worker can parse it.

import { ProtocolError } from "../http/errors.ts";
import { originUrl, parseAuthority } from "../http/authority.ts";
import type { Authority } from "../http/authority.ts";
import type { RequestHead } from "../http/parser.ts";
import type { RemoteAddr } from "../app/types.ts";

export interface Peer {
  address: string;
  port: number;
  family: "IPv4" | "IPv6" | "";
  transport: "tcp" | "unix";
  /** The local port the request arrived on (0 for unix sockets). */
  localPort: number;
  /** --proxy-protocol: the address is the client the --trusted-proxy peer named in its PROXY
   *  header; the connection itself is the proxy's, so its proxy headers are believed too. */
  viaTrustedProxy?: boolean;
}

export interface RequestOrigin {
  url: string;
  headers: string[];
  remote: RemoteAddr;
  family: "IPv4" | "IPv6" | "";
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

/** The host the URL names when the request named none (HTTP/1.0 without Host). --server-name
 *  passed the same rule at start-up (options/values.ts), so this is never null in practice;
 *  "localhost" stands in rather than a URL the Worker could not parse. */
export function fallbackHost(serverName: string, scheme: string, localPort: number): Authority {
  const value = localPort === 0 || DEFAULT_PORT[scheme] === localPort ? serverName : `${serverName}:${localPort}`;
  return parseAuthority(value) ?? ("localhost" as Authority);
}

/** Waitress's url_prefix rule: "/app" -> "/", "/app/x" -> "/x", anything else unchanged. */
export function stripPrefix(path: string, prefix: string): string {
  if (prefix === "" || !path.startsWith(prefix)) return path;
  const rest = path.slice(prefix.length);
  if (rest === "") return "/";
  const c = rest.charCodeAt(0);
  if (c === 0x2f) return rest; // "/"
  if (c === 0x3f) return "/" + rest; // "?query"
  return path;
}

export function buildUrl(scheme: string, host: Authority, path: string, prefix: string): string {
  return originUrl(scheme, host, path === "*" ? "/*" : stripPrefix(path, prefix));
}

/**
 * RFC 9112 §3.2.2 lets an absolute-form target name its scheme; tray knows the connection's only
 * from --url-scheme (or a trusted proxy), so a target naming another one (an "https://" target on
 * a plain connection, or "ftp://") is refused rather than given to the app as if it were true.
 */
export function targetSchemeMismatch(head: RequestHead, scheme: string): ProtocolError | null {
  if (head.scheme === null || head.scheme === scheme) return null;
  return new ProtocolError(400, `Request-target scheme is not ${scheme}`);
}

export function directOrigin(head: RequestHead, peer: Peer, scheme: string, serverName: string, prefix: string): RequestOrigin | ProtocolError {
  const mismatch = targetSchemeMismatch(head, scheme);
  if (mismatch !== null) return mismatch;
  const host = head.authority ?? fallbackHost(serverName, scheme, peer.localPort);
  return {
    url: buildUrl(scheme, host, head.path, prefix),
    headers: head.headers,
    remote: { hostname: peer.address, port: peer.port, transport: peer.transport },
    family: peer.family,
  };
}
