// The connection layer's settings (Waitress's Adjustments): small frozen records built once at
// start-up from the parsed options, one per concern (a connection's limits and buffers, the proxy
// policy), so request-time code reads plain fields and never goes back to the command line.

import { DEFAULT_LIMITS } from "../http/parser.ts";
import type { ParserLimits } from "../http/parser.ts";
import type { Options } from "../options/types.ts";
import { BIT_OF_NAME } from "./proxy-header-names.ts";

/** Where request and response bytes wait: memory up to these sizes, then a temp file. */
export interface BufferSettings {
  readonly inbufOverflow: number;
  readonly outbufOverflow: number;
}

/** Everything one connection needs to know about how it may behave. */
export interface ConnectionSettings {
  readonly parserLimits: Readonly<ParserLimits>;
  readonly buffers: BufferSettings;
  /** Requests of one connection that may run at once: 1 + --channel-request-lookahead. */
  readonly maxRunning: number;
  /** Server field value ("" for none). */
  readonly ident: string;
  /** --url-prefix, handed to the app as scriptName. */
  readonly urlPrefix: string;
  readonly logSocketErrors: boolean;
  /** --header-timeout in ms: a request head must be complete this long after its first byte. */
  readonly headerTimeoutMs: number;
  /** --channel-timeout in ms: silence after which an idle connection is closed. */
  readonly channelTimeoutMs: number;
}

export function connectionSettings(o: Options): ConnectionSettings {
  return Object.freeze({
    parserLimits: Object.freeze({ maxHeadSize: o.maxRequestHeaderSize, maxBodySize: o.maxRequestBodySize, maxTargetLength: DEFAULT_LIMITS.maxTargetLength, maxFields: o.maxRequestHeaders }),
    buffers: Object.freeze({ inbufOverflow: o.inbufOverflow, outbufOverflow: o.outbufOverflow }),
    maxRunning: 1 + o.channelRequestLookahead,
    ident: o.ident,
    urlPrefix: o.urlPrefix,
    logSocketErrors: o.logSocketErrors,
    headerTimeoutMs: o.headerTimeout * 1000,
    channelTimeoutMs: o.channelTimeout * 1000,
  });
}

/** How a request's origin is decided (request-origin.ts, proxy-headers.ts): the URL's parts and
 *  the proxy policy, with --trusted-proxy-headers turned into header bits once. */
export interface ProxySettings {
  readonly urlScheme: string;
  readonly serverName: string;
  readonly urlPrefix: string;
  readonly trustedProxy: string | null;
  readonly trustedProxyCount: number;
  /** --trusted-proxy-headers as header bits (proxy-header-names.ts). */
  readonly trustedHeaderBits: number;
  readonly logUntrustedProxyHeaders: boolean;
  readonly clearUntrustedProxyHeaders: boolean;
}

export function proxySettings(o: Options): ProxySettings {
  let bits = 0;
  for (const name of o.trustedProxyHeaders) bits |= BIT_OF_NAME[name] ?? 0;
  return Object.freeze({
    urlScheme: o.urlScheme,
    serverName: o.serverName,
    urlPrefix: o.urlPrefix,
    trustedProxy: o.trustedProxy,
    trustedProxyCount: o.trustedProxyCount,
    trustedHeaderBits: bits,
    logUntrustedProxyHeaders: o.logUntrustedProxyHeaders,
    clearUntrustedProxyHeaders: o.clearUntrustedProxyHeaders,
  });
}
