// The authority a request names (Host, or an absolute-form target's; RFC 9110 §7.2, RFC 9112
// §3.2) and the URL the app sees built from it.
//
// Strategy: one rule decides both. request.url is a WHATWG URL (the Worker parses it with
// new Request()), so an authority is accepted only if it is RFC 3986 §3.2 syntax AND the WHATWG
// URL parser accepts it: a port of 0-65535, a valid IPv6 literal, no IPvFuture, a host that
// parses (so "a.1", "1.2.3.256", "xn--a", "a%00b" are refused here rather than thrown in the
// Worker as a 500). parseAuthority() returns the value branded as an Authority, and originUrl()
// takes only an Authority: a URL cannot be built from a string this rule has not accepted.
// The authority is kept as received; the WHATWG parser normalises its case. A reg-name the WHATWG
// parser reads as an IPv4 address ("0x7f.1", "017700000001", "127.01.0.1", "%3127.0.0.1") is
// refused: in RFC 3986 it is a DNS name, so the app would see a host the client never named
// (RFC 3986 §7.4; Apache's HttpProtocolOptions Strict refuses the same).

/** An authority parseAuthority() accepted: the only kind originUrl() builds a URL from. */
export type Authority = string & { readonly __authority: unique symbol };

/** RFC 9110 §7.2: Host = uri-host [ ":" port ]; uri-host = IP-literal / IPv4address / reg-name
 *  (RFC 3986 §3.2.2), reg-name = *( unreserved / pct-encoded / sub-delims ), port = *DIGIT.
 *  Userinfo ("@") is not part of it (RFC 9110 §4.2.4). IPvFuture is left out: no URL parser
 *  tray's apps use accepts it. */
const AUTHORITY_RE = /^(\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::([0-9]*))?$/;

/** RFC 3986 §3.2.3 port as a TCP port number; WHATWG URL refuses larger ones. */
export const MAX_PORT = 65535;

/** Authorities judged lately, and the verdict: a keep-alive connection names the same Host on
 *  every request, and the URL parser is the costliest step of a small request's head. The rule
 *  is a pure function of the string, so a verdict never goes stale; the cache is simply emptied
 *  when it holds AUTHORITY_CACHE_MAX (so a client sending many names cannot grow it). */
const judged = new Map<string, boolean>();
export const AUTHORITY_CACHE_MAX = 1024;

/** The value as an Authority, or null when it is not one request.url can carry. */
export function parseAuthority(value: string): Authority | null {
  const known = judged.get(value);
  if (known !== undefined) return known ? (value as Authority) : null;
  const ok = judge(value);
  if (judged.size >= AUTHORITY_CACHE_MAX) judged.clear();
  judged.set(value, ok);
  return ok ? (value as Authority) : null;
}

function judge(value: string): boolean {
  const m = AUTHORITY_RE.exec(value);
  if (m === null) return false; // also "" and a bare ":port": RFC 9110 §4.2.1, an http host is never empty
  const port = m[2];
  if (port !== undefined && port !== "" && Number(port) > MAX_PORT) return false;
  // The port is checked above, so only the host is left for the URL parser to judge; http and
  // https parse hosts alike (both are WHATWG "special" schemes).
  const host = m[1];
  if (!MAY_BE_READ_AS_IPV4.test(host)) return URL.canParse(`http://${host}/`);
  const hostname = URL.parse(`http://${host}/`)?.hostname;
  if (hostname === undefined) return false;
  // An IPv4 result is serialised dotted-decimal: accepted only if that is what was received.
  return !(IPV4_SERIALISED.test(hostname) && hostname !== host);
}

/** The hosts the WHATWG parser may turn into an IPv4 address: a last label (before an optional
 *  trailing dot) that starts with a digit (decimal, 0x hex, 0-led octal), or any pct-encoding. */
const MAY_BE_READ_AS_IPV4 = /(?:^|\.)[0-9][^.]*\.?$|%/;

/** How the WHATWG URL parser serialises an IPv4 host; no domain it accepts looks like this. */
const IPV4_SERIALISED = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;

/** The URL for origin-form path and query under this scheme and authority. */
export function originUrl(scheme: string, authority: Authority, pathAndQuery: string): string {
  return `${scheme}://${authority}${pathAndQuery}`;
}
