// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2), sans-I/O.
//
// Strategy: a proxy that speaks it sends one header before the first byte of the client's own
// stream, saying whom it is proxying for. ProxyHeaderParser.feed() takes the connection's first
// bytes in any slices and answers "need more", the header's source address (null when the header
// names none: v1 UNKNOWN, v2 LOCAL, AF_UNSPEC or AF_UNIX) with the bytes that followed it, or an
// error; after an answer other than "need more" the parser is done. The version is told from the
// first bytes (§2.1 "PROXY " / §2.2 the 12-byte signature): anything else is an error at once,
// so a client that sends HTTP where a header was due is refused on its first byte.
// startsLikeProxyHeader() is the other question a server asks: whether bytes from a peer that
// may NOT send a header begin one (they are refused) or cannot be one (they are HTTP).

export interface ProxySource {
  address: string;
  port: number;
  family: "IPv4" | "IPv6";
}

export type ProxyHeaderResult =
  | { kind: "more" }
  | { kind: "done"; source: ProxySource | null; rest: Uint8Array }
  | { kind: "error"; message: string };

/** §2.1: "a receiver may reject an incomplete line which does not contain the CRLF sequence in the first 107 bytes". */
export const PROXY_V1_MAX_LENGTH = 107;
/** §2.2: the v2 header's own length field allows 64 KiB of addresses and TLVs; tray takes at most this much (TLVs are skipped unread). */
export const PROXY_V2_MAX_LENGTH = 4096;

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
/** §2.2: \r\n\r\n\0\r\nQUIT\n */
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const V2_HEADER_LENGTH = 16;

// §2.2 byte 13 (version and command), byte 14 (address family and transport protocol).
const V2_VERSION = 0x2;
const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const AF_UNIX = 0x3;
const TRANSPORT_UNSPEC = 0x0;
const TRANSPORT_STREAM = 0x1;
/** Bytes of the address block per family (§2.2: src and dst addresses, then src and dst ports for INET/INET6). */
const ADDRESS_LENGTH: Record<number, number> = { [AF_UNSPEC]: 0, [AF_INET]: 12, [AF_INET6]: 36, [AF_UNIX]: 216 };

const CR = 0x0d;
const LF = 0x0a;

/** Whether `bytes` (so far) agree with the start of `prefix`, for as many bytes as both have. */
function agrees(bytes: Uint8Array, prefix: readonly number[]): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/**
 * For a peer that may not send a PROXY header: true when its first bytes begin one (v1 or v2),
 * false when they cannot, null when too few bytes have come to tell.
 */
export function startsLikeProxyHeader(bytes: Uint8Array): boolean | null {
  const v1 = agrees(bytes, V1_PREFIX);
  const v2 = agrees(bytes, V2_SIGNATURE);
  if ((v1 && bytes.length >= V1_PREFIX.length) || (v2 && bytes.length >= V2_SIGNATURE.length)) return true;
  return v1 || v2 ? null : false;
}

export class ProxyHeaderParser {
  private buffer = new Uint8Array(0);
  private finished = false;

  feed(chunk: Uint8Array): ProxyHeaderResult {
    if (this.finished) throw new Error("bug: ProxyHeaderParser fed after its answer");
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const result = agrees(joined, V1_PREFIX) ? parseV1(joined) : agrees(joined, V2_SIGNATURE) ? parseV2(joined) : fail("the connection did not begin with a PROXY protocol header");
    if (result.kind === "more") this.buffer = joined;
    else {
      this.finished = true;
      this.buffer = new Uint8Array(0);
    }
    return result;
  }
}

function fail(message: string): ProxyHeaderResult {
  return { kind: "error", message };
}

// --- version 1: one line of text ----------------------------------------------------------------

// §2.1: "PROXY" SP ( "TCP4" | "TCP6" ) SP src SP dst SP srcport SP dstport CRLF, or "PROXY UNKNOWN" ... CRLF.
const PORT_RE = /^(?:0|[1-9][0-9]{0,4})$/;
const IPV4_RE = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

function parseV1(bytes: Uint8Array): ProxyHeaderResult {
  const limit = Math.min(bytes.length, PROXY_V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const c = bytes[i];
    if (c === CR) {
      if (i + 1 >= bytes.length) break; // the LF may come next
      if (bytes[i + 1] !== LF) return fail("PROXY v1 header has a CR without LF");
      end = i;
      break;
    }
    // The line is printable US-ASCII (§2.1); a bare LF or other control ends any hope.
    if (c < 0x20 || c > 0x7e) return fail("PROXY v1 header has a byte that is not printable ASCII");
  }
  if (end === -1) return bytes.length >= PROXY_V1_MAX_LENGTH ? fail(`PROXY v1 header longer than ${PROXY_V1_MAX_LENGTH} bytes`) : { kind: "more" };
  if (end + 2 > PROXY_V1_MAX_LENGTH) return fail(`PROXY v1 header longer than ${PROXY_V1_MAX_LENGTH} bytes`);
  const line = String.fromCharCode(...bytes.subarray(0, end));
  const rest = bytes.subarray(end + 2);
  const parts = line.split(" ");
  // §2.1: with UNKNOWN "the receiver must ignore anything presented before the CRLF".
  if (parts[1] === "UNKNOWN") return { kind: "done", source: null, rest };
  if (parts.length !== 6) return fail("PROXY v1 header is not 'PROXY TCP4|TCP6 SRC DST SRCPORT DSTPORT'");
  const [, proto, src, dst, srcPort, dstPort] = parts;
  let address: string | null;
  let family: "IPv4" | "IPv6";
  if (proto === "TCP4") {
    address = IPV4_RE.test(src) && IPV4_RE.test(dst) ? src : null;
    family = "IPv4";
  } else if (proto === "TCP6") {
    address = canonicalIpv6(dst) === null ? null : canonicalIpv6(src);
    family = "IPv6";
  } else {
    return fail("PROXY v1 header's protocol is not TCP4, TCP6 or UNKNOWN");
  }
  if (address === null) return fail(`PROXY v1 ${proto} header has an address that is not ${family}`);
  if (!isPort(srcPort) || !isPort(dstPort)) return fail("PROXY v1 header has a port that is not 0-65535");
  return { kind: "done", source: { address, port: Number(srcPort), family }, rest };
}

function isPort(text: string): boolean {
  return PORT_RE.test(text) && Number(text) <= 65535;
}

// --- version 2: binary -------------------------------------------------------------------------

function parseV2(bytes: Uint8Array): ProxyHeaderResult {
  if (bytes.length < V2_HEADER_LENGTH) return { kind: "more" };
  const verCmd = bytes[12];
  if (verCmd >> 4 !== V2_VERSION) return fail("PROXY v2 header has a version other than 2");
  const command = verCmd & 0x0f;
  if (command !== CMD_LOCAL && command !== CMD_PROXY) return fail("PROXY v2 header has an unknown command");
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  const length = (bytes[14] << 8) | bytes[15];
  if (length > PROXY_V2_MAX_LENGTH) return fail(`PROXY v2 header longer than ${PROXY_V2_MAX_LENGTH} bytes`);
  // §2.2: a LOCAL header's address block (and TLVs) are skipped whatever they say.
  if (command === CMD_PROXY) {
    const need = ADDRESS_LENGTH[family];
    if (need === undefined) return fail("PROXY v2 header has an unknown address family");
    if (transport !== TRANSPORT_STREAM && !(family === AF_UNSPEC && transport === TRANSPORT_UNSPEC)) {
      return fail("PROXY v2 header is not for a stream (TCP) connection");
    }
    if (length < need) return fail("PROXY v2 header's address block is shorter than its family needs");
  }
  const total = V2_HEADER_LENGTH + length;
  if (bytes.length < total) return { kind: "more" };
  const rest = bytes.subarray(total);
  if (command === CMD_LOCAL || family === AF_UNSPEC || family === AF_UNIX) return { kind: "done", source: null, rest };
  const a = V2_HEADER_LENGTH;
  if (family === AF_INET) {
    const address = `${bytes[a]}.${bytes[a + 1]}.${bytes[a + 2]}.${bytes[a + 3]}`;
    return { kind: "done", source: { address, port: (bytes[a + 8] << 8) | bytes[a + 9], family: "IPv4" }, rest };
  }
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((bytes[a + 2 * i] << 8) | bytes[a + 2 * i + 1]);
  return { kind: "done", source: { address: formatIpv6(groups), port: (bytes[a + 32] << 8) | bytes[a + 33], family: "IPv6" }, rest };
}

// --- IPv6 text (RFC 4291 §2.2 in, RFC 5952 §4 out) ----------------------------------------------

/** RFC 5952 §4: lower-case hex, no leading zeros, the longest run (2+ groups) of zeros as "::" (the first if tied). */
function formatIpv6(groups: number[]): string {
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  // RFC 5952 §5: an IPv4-mapped address keeps its dotted tail (::ffff:192.0.2.1).
  if (bestAt === 0 && bestLen === 5 && groups[5] === 0xffff) {
    return `::ffff:${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt === -1) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLen).join(":")}`;
}

const HEX_GROUP_RE = /^[0-9A-Fa-f]{1,4}$/;

/** The RFC 5952 text of an IPv6 address written per RFC 4291 §2.2 (no zone), or null. */
export function canonicalIpv6(text: string): string | null {
  let head = text;
  const tail: number[] = [];
  // §2.2 form 3: the last 32 bits may be written as an IPv4 address.
  const lastColon = text.lastIndexOf(":");
  if (lastColon !== -1 && text.slice(lastColon + 1).includes(".")) {
    const v4 = text.slice(lastColon + 1);
    if (!IPV4_RE.test(v4)) return null;
    const o = v4.split(".").map(Number);
    tail.push((o[0] << 8) | o[1], (o[2] << 8) | o[3]);
    // Keep a "::" that ends right before the IPv4 part; drop a single separating ":".
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!HEX_GROUP_RE.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  if (left === null || right === null) return null;
  const written = left.length + right.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (written > 7) return null; // "::" stands for at least one group
    groups = [...left, ...new Array<number>(8 - written).fill(0), ...right, ...tail];
  } else {
    if (written !== 8) return null;
    groups = [...left, ...tail];
  }
  return formatIpv6(groups);
}
