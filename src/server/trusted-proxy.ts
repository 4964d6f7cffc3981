// Which peers and which proxy headers are believed: the peer against --trusted-proxy (Waitress 3's
// rule: '*' = any peer; 'localhost' = a unix-socket peer, Waitress's REMOTE_ADDR for those; else
// the peer's address).
// Strategy: nothing is derived twice. The header bits are computed once at start-up (settings.ts
// proxySettings); the peer's canonical address (IPv4-mapped IPv6 unwrapped, IPv6 in the URL-canonical spelling that
// --trusted-proxy is stored in) once per Peer (one per connection), and only when the address as
// reported is IPv6 (has a colon) and does not already match.

import { isIP } from "node:net";
import { canonicalIp } from "../http/ip-address.ts";
import type { Peer } from "./request-origin.ts";

// --- which peers are believed ----------------------------------------------------------------

/** Peers whose address string differs from --trusted-proxy only in spelling (IPv4-mapped, IPv6 case). */
const canonicalCache = new WeakMap<Peer, string>();

function canonicalAddress(peer: Peer): string {
  let c = canonicalCache.get(peer);
  if (c === undefined) {
    const a = peer.address;
    // A dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
    if (a.toLowerCase().startsWith("::ffff:") && isIP(a.slice(7)) === 4) c = a.slice(7);
    else c = canonicalIp(a) ?? a; // the spelling --trusted-proxy was turned into (values.ts)
    canonicalCache.set(peer, c);
  }
  return c;
}

/** Waitress: `trusted_proxy == "*" or REMOTE_ADDR == trusted_proxy`; REMOTE_ADDR is "localhost" for unix sockets. */
export function isTrustedPeer(peer: Peer, trustedProxy: string | null): boolean {
  if (trustedProxy === null) return false;
  if (trustedProxy === "*" || peer.viaTrustedProxy === true) return true;
  if (peer.transport === "unix") return trustedProxy === "localhost";
  if (peer.address === trustedProxy) return true;
  return peer.address.includes(":") && canonicalAddress(peer) === trustedProxy;
}
