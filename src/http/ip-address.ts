// The spelling of an IP address: one canonical text per address, so a peer address and a configured
// one (--trusted-proxy, --listen) compare equal however each was written. Used at start-up by the
// option parsers and at request time by the trusted-proxy check.

import { isIP } from "node:net";

/** Canonical text of an IP literal (bare or bracketed IPv6, or IPv4), or null. */
export function canonicalIp(raw: string): string | null {
  const bare = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
  const family = isIP(bare);
  if (family === 4 && bare === raw) return bare;
  if (family === 6 && !bare.includes("%")) return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  return null;
}
