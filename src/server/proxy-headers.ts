// Trusted proxy headers (Waitress's proxy_headers.py). PLACEHOLDER until issue 4 lands:
// no proxy is trusted yet; untrusted proxy headers are removed before the app sees them
// (--clear-untrusted-proxy-headers, on by default).

import type { RequestHead } from "../http/parser.ts";
import type { ProtocolError } from "../http/errors.ts";
import type { Options } from "../options.ts";
import { directOrigin } from "./request-origin.ts";
import type { Peer, RequestOrigin } from "./request-origin.ts";

const PROXY_HEADERS = new Set(["forwarded", "x-forwarded-for", "x-forwarded-by", "x-forwarded-host", "x-forwarded-port", "x-forwarded-proto"]);

export function proxyOrigin(head: RequestHead, peer: Peer, options: Options, log: (line: string) => void): RequestOrigin | ProtocolError {
  void log;
  const origin = directOrigin(head, peer, options.urlScheme, options.serverName, options.urlPrefix);
  if (!options.clearUntrustedProxyHeaders) return origin;
  const h = origin.headers;
  let kept: string[] | null = null;
  for (let i = 0; i < h.length; i += 2) {
    const untrusted = h[i].length >= 9 && PROXY_HEADERS.has(h[i].toLowerCase());
    if (untrusted && kept === null) kept = h.slice(0, i);
    else if (!untrusted && kept !== null) kept.push(h[i], h[i + 1]);
  }
  if (kept !== null) origin.headers = kept;
  return origin;
}
