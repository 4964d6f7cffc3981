// The one table of options (DESIGN.md §2): names, types, defaults, help text and validation.
// The CLI, --help and validation are all driven from OPTION_TABLE; nothing else parses argv.
// (Owned by the options/CLI work: the Options interface below is the contract the server reads.)

export type ListenAddress =
  | { kind: "tcp"; host: string; port: number } // host is an IP literal or name, "::" / "0.0.0.0" for wildcards
  | { kind: "unix"; path: string };

export interface Options {
  app: string | null; // MODULE[:OBJECT], positional or --app
  call: boolean;
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
}
