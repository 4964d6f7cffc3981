// The shape of parsed options (DESIGN.md §2): what parseOptions() returns and the server reads.
// Strategy: plain data, no behaviour. Every field but `listeners` and `warnings` is set from one
// OPTION_TABLE entry (table.ts); parseOptions() derives those two. Kept apart from the code so
// the server layer can import the types without loading the option table.
import type { AppInterface } from "../app/interfaces.ts";

/** --access-log-format's values: Apache's common and combined formats. */
export const ACCESS_LOG_FORMATS = ["common", "combined"] as const;
export type AccessLogFormat = (typeof ACCESS_LOG_FORMATS)[number];

/** --access-log's value meaning standard error. */
export const ACCESS_LOG_STDERR = "-";

/** --log-format's values: plain lines (Waitress's way) or one JSON object per line. */
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

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
  /** Beyond Waitress: seconds a request head may take from its first byte (408 past it). */
  headerTimeout: number;
  channelRequestLookahead: number;
  logSocketErrors: boolean;
  maxRequestHeaderSize: number;
  maxRequestHeaders: number;
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
  // --- operations, edge half (issue 15): PROXY protocol, admin listener ---
  /** Beyond Waitress: connections from --trusted-proxy peers begin with a PROXY protocol v1/v2 header naming the client. */
  proxyProtocol: boolean;
  /** Beyond Waitress: the admin listener (/livez, /readyz, /metrics), answered by the main thread; null for none. */
  adminListen: ListenAddress | null;
  /** Operations (issue 15): seconds a Worker's event loop may stay blocked before it is replaced; 0 off. */
  workerTimeout: number;
  /** Seconds from reaching a Worker to the response head before a request gets 503; 0 off. */
  requestTimeout: number;
  /** Seconds SIGTERM keeps serving (listeners open) before shutting down. */
  drainDelay: number;
  /** Requests a Worker is given before it is replaced gracefully; 0 off. */
  maxRequests: number;
  /** Random 0..this added to maxRequests per Worker. */
  maxRequestsJitter: number;
  /** MiB of JavaScript heap past which a Worker is replaced; 0 off. */
  workerMaxMemory: number;
  /** --help was given: print renderHelp() and exit 0 (nothing else was validated). */
  help: boolean;
  /** --version was given: print the version and exit 0 (nothing else was validated). */
  version: boolean;
  /** Non-fatal notes for stderr (deprecated or implied settings), one line each, no "tray:" prefix. */
  warnings: string[];
}
