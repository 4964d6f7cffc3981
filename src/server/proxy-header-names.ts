// Proxy header field names: which of the six proxy headers a field name is, as one bit each, so a
// set of them is a number and "any proxy header here?" is one OR per field.
// Strategy: proxyHeaderBit() runs on every field of every request, so it allocates nothing and
// rules out most names by length alone (one bit test against NAME_LENGTHS), then by the first
// byte, then compares the rest ignoring ASCII case (RFC 9110 §5.1: field names are
// case-insensitive). The names as written in logs and 400 bodies come from DISPLAY_NAMES.

// One bit per proxy header (options/values.ts PROXY_HEADER_NAMES).
export const FORWARDED = 1;
export const X_FORWARDED_BY = 2;
export const X_FORWARDED_FOR = 4;
export const X_FORWARDED_HOST = 8;
export const X_FORWARDED_PORT = 16;
export const X_FORWARDED_PROTO = 32;

export const BIT_OF_NAME: Record<string, number> = {
  forwarded: FORWARDED,
  "x-forwarded-by": X_FORWARDED_BY,
  "x-forwarded-for": X_FORWARDED_FOR,
  "x-forwarded-host": X_FORWARDED_HOST,
  "x-forwarded-port": X_FORWARDED_PORT,
  "x-forwarded-proto": X_FORWARDED_PROTO,
};

/** The names as they are written in logs and 400 bodies, in this order. */
const DISPLAY_NAMES: [number, string][] = [
  [FORWARDED, "Forwarded"],
  [X_FORWARDED_BY, "X-Forwarded-By"],
  [X_FORWARDED_FOR, "X-Forwarded-For"],
  [X_FORWARDED_HOST, "X-Forwarded-Host"],
  [X_FORWARDED_PORT, "X-Forwarded-Port"],
  [X_FORWARDED_PROTO, "X-Forwarded-Proto"],
];

/** Equal to `lower` ignoring ASCII case; `lower` is lower-case and the lengths already match. */
function sameName(name: string, lower: string, from: number): boolean {
  for (let i = from; i < lower.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The lengths of the six names (9, 14, 15, 16, 17) as bits: most field names are ruled out by length alone. */
const NAME_LENGTHS = (1 << 9) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 17);

/** Which proxy header a field name is (its bit), or 0. No allocation: runs on every field. */
export function proxyHeaderBit(name: string): number {
  const n = name.length;
  if (n > 17 || ((NAME_LENGTHS >> n) & 1) === 0) return 0;
  const c = name.charCodeAt(0) | 0x20;
  if (n === 9) return c === 0x66 && sameName(name, "forwarded", 1) ? FORWARDED : 0; // "f"
  if (c !== 0x78 || !sameName(name, "x-forwarded-", 1)) return 0; // "x"
  switch (n) {
    case 14:
      return sameName(name, "x-forwarded-by", 12) ? X_FORWARDED_BY : 0;
    case 15:
      return sameName(name, "x-forwarded-for", 12) ? X_FORWARDED_FOR : 0;
    case 16:
      return sameName(name, "x-forwarded-host", 12) ? X_FORWARDED_HOST : sameName(name, "x-forwarded-port", 12) ? X_FORWARDED_PORT : 0;
    case 17:
      return sameName(name, "x-forwarded-proto", 12) ? X_FORWARDED_PROTO : 0;
  }
  return 0;
}

export function displayNames(bits: number): string {
  const names: string[] = [];
  for (const [bit, name] of DISPLAY_NAMES) if ((bits & bit) !== 0) names.push(name);
  return names.join(", ");
}
