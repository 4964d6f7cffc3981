// --proxy-protocol: a new socket's first bytes are read here, before its Connection exists.
//
// Strategy: a connection from the --trusted-proxy peer must begin with a PROXY protocol header
// (src/http/proxy-protocol.ts); its source becomes the connection's Peer, so everything downstream
// (info.remoteAddr, requestIP, the access log, Node's req.ip) sees the client the proxy vouched
// for; the connection stays the proxy's, so its proxy headers (X-Forwarded-Proto from a proxy
// that also terminates TLS) are believed as before. A connection from any other peer is read only far enough to tell that it does not begin
// with a header (one byte usually; at most the 12 of the v2 signature) and a header from it is
// refused: otherwise any client could claim any address. Refusals close the socket without a
// response (the bytes were not HTTP, or not from whom they claim). Either way the bytes read are
// handed to the new Connection (Connection.receive), so nothing is lost; the socket stays in
// flowing mode throughout, and the Connection's 'data' listener replaces this one synchronously.

import type { Log } from "./log.ts";
import type { Socket } from "node:net";
import { ProxyHeaderParser, startsLikeProxyHeader } from "../http/proxy-protocol.ts";
import type { Peer } from "./request-origin.ts";
import { isTrustedPeer } from "./trusted-proxy.ts";

/** The trusted proxy writes its header as it connects: a peer that takes longer is not one. */
export const PROXY_HEADER_TIMEOUT_MS = 5_000;

export interface ProxyGateOptions {
  trustedProxy: string | null;
  /** --channel-timeout, in ms: how long any other peer may take to send its first bytes. */
  channelTimeoutMs: number;
  log: Log;
  logSocketErrors: boolean;
}

/**
 * Reads the socket's first bytes; calls `admit(peer, rest)` with the connection's Peer (the
 * header's source for the trusted proxy) and the bytes read so far, or closes the socket. `done`
 * is called once either way, first (for the server's count of sockets in this state).
 */
export function gateProxyProtocol(socket: Socket, peer: Peer, options: ProxyGateOptions, admit: (peer: Peer, rest: Uint8Array) => void, done: (admitted: boolean) => void): void {
  const trusted = isTrustedPeer(peer, options.trustedProxy);
  const parser = trusted ? new ProxyHeaderParser() : null;
  let seen = new Uint8Array(0); // untrusted peers: the bytes read while telling
  let settled = false;

  const finish = (admitted: boolean): void => {
    settled = true;
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onEnd);
    if (!admitted) socket.destroy();
    done(admitted);
  };
  const refuse = (why: string): void => {
    if (settled) return;
    if (options.logSocketErrors) options.log(`Closed a connection from ${peer.address || "a unix socket"}: ${why}`, "warning");
    finish(false);
  };
  const onEnd = (): void => {
    if (!settled) finish(false);
  };
  const onData = (chunk: Buffer): void => {
    if (settled) return;
    if (parser !== null) {
      const r = parser.feed(chunk);
      if (r.kind === "more") return;
      if (r.kind === "error") return refuse(r.message);
      finish(true);
      const s = r.source;
      // LOCAL / UNKNOWN: the proxy speaks for itself (its health checks); keep the real peer.
      admit(s === null ? peer : { address: s.address, port: s.port, family: s.family, transport: "tcp", localPort: peer.localPort, viaTrustedProxy: true }, r.rest);
      return;
    }
    const joined = new Uint8Array(seen.length + chunk.length);
    joined.set(seen, 0);
    joined.set(chunk, seen.length);
    const verdict = startsLikeProxyHeader(joined);
    if (verdict === null) {
      seen = joined;
      return;
    }
    if (verdict) return refuse("a PROXY protocol header from a peer that is not --trusted-proxy");
    finish(true);
    admit(peer, joined);
  };

  const timer = setTimeout(
    () => refuse(trusted ? `no PROXY protocol header within ${PROXY_HEADER_TIMEOUT_MS} ms` : "nothing received within --channel-timeout"),
    trusted ? PROXY_HEADER_TIMEOUT_MS : options.channelTimeoutMs,
  );
  timer.unref();
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("close", onEnd);
  // A reset before the first byte is not worth a log line; the socket is closed either way.
  socket.on("error", () => {});
}
