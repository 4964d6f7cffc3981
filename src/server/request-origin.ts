// Where a request came from and what URL the app sees (DESIGN.md §1): the scheme (--url-scheme),
// the host (Host / absolute-form authority, else --server-name), the path with --url-prefix
// removed (Waitress's SCRIPT_NAME / PATH_INFO split), and the client address.
// Trusted proxy headers, when configured, override these (proxy-headers.ts).

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

/** The host the URL names when the request named none (HTTP/1.0 without Host, or an empty Host). */
export function fallbackHost(serverName: string, scheme: string, localPort: number): string {
  return localPort === 0 || DEFAULT_PORT[scheme] === localPort ? serverName : `${serverName}:${localPort}`;
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

export function buildUrl(scheme: string, host: string, path: string, prefix: string): string {
  const p = path === "*" ? "/*" : stripPrefix(path, prefix);
  return `${scheme}://${host}${p}`;
}

export function directOrigin(head: RequestHead, peer: Peer, scheme: string, serverName: string, prefix: string): RequestOrigin {
  const host = head.authority !== null && head.authority !== "" ? head.authority : fallbackHost(serverName, scheme, peer.localPort);
  return {
    url: buildUrl(scheme, host, head.path, prefix),
    headers: head.headers,
    remote: { hostname: peer.address, port: peer.port, transport: peer.transport },
    family: peer.family,
  };
}
