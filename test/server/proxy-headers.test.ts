// proxyOrigin() on its own: which peers are believed, what each proxy header does to request.url,
// the client address and the headers the app sees, and which values are a 400. Pure logic, so
// RequestHead objects are built by hand; test/e2e/proxy*.test.ts and nginx*.test.ts drive the
// same rules through dist/tray and a real nginx.

import { describe, expect, test } from "bun:test";
import { proxySettings } from "../../src/server/settings.ts";
import { proxyOrigin } from "../../src/server/proxy-headers.ts";
import { proxyHeaderBit } from "../../src/server/proxy-header-names.ts";
import type { Peer, RequestOrigin } from "../../src/server/request-origin.ts";
import type { RequestHead } from "../../src/http/parser.ts";
import type { Authority } from "../../src/http/authority.ts";
import { MAX_ZONE_ID_LENGTH } from "../../src/server/proxy-header-values.ts";
import { ProtocolError } from "../../src/http/errors.ts";
import { parseOptions } from "../../src/options.ts";
import type { Options } from "../../src/options/types.ts";

const PROXY: Peer = { address: "10.0.0.5", port: 40001, family: "IPv4", transport: "tcp", localPort: 8080 };
const STRANGER: Peer = { address: "203.0.113.9", port: 50002, family: "IPv4", transport: "tcp", localPort: 8080 };
const UNIX: Peer = { address: "", port: 0, family: "", transport: "unix", localPort: 0 };

function options(...argv: string[]): Options {
  return parseOptions(["app.ts", ...argv], {});
}

const ALL_X = "--trusted-proxy-headers=x-forwarded-for,x-forwarded-host,x-forwarded-proto,x-forwarded-port,x-forwarded-by";
const xOptions = (...more: string[]) => options("--trusted-proxy=10.0.0.5", ALL_X, ...more);
const fwdOptions = (...more: string[]) => options("--trusted-proxy=10.0.0.5", "--trusted-proxy-headers=forwarded", ...more);

function head(fields: string[], init: { path?: string; authority?: string | null; versionMinor?: number } = {}): RequestHead {
  const path = init.path ?? "/x?y=1";
  return {
    method: "GET",
    target: path,
    path,
    versionMinor: init.versionMinor ?? 1,
    headers: ["Host", "example.com", ...fields],
    authority: (init.authority === undefined ? "example.com" : init.authority) as Authority | null,
    scheme: null,
    contentLength: null,
    chunked: false,
    keepAlive: true,
    expectContinue: false,
    upgrade: false,
  };
}

interface Run {
  origin: RequestOrigin;
  logs: string[];
}

function run(h: RequestHead, peer: Peer, o: Options): Run {
  const logs: string[] = [];
  const origin = proxyOrigin(h, peer, proxySettings(o), (l) => logs.push(l));
  if (origin instanceof ProtocolError) throw new Error(`expected an origin, got ${origin.status} ${origin.message}`);
  return { origin, logs };
}

function refused(h: RequestHead, peer: Peer, o: Options): { error: ProtocolError; logs: string[] } {
  const logs: string[] = [];
  const r = proxyOrigin(h, peer, proxySettings(o), (l) => logs.push(l));
  if (!(r instanceof ProtocolError)) throw new Error(`expected a 400, got ${JSON.stringify(r)}`);
  return { error: r, logs };
}

const names = (h: string[]) => h.filter((_, i) => i % 2 === 0);

describe("proxyHeaderBit", () => {
  test("knows the six proxy headers in any case and nothing else", () => {
    for (const n of ["Forwarded", "FORWARDED", "x-forwarded-for", "X-Forwarded-By", "X-FORWARDED-HOST", "x-Forwarded-Port", "X-Forwarded-Proto"]) {
      expect(proxyHeaderBit(n)).not.toBe(0);
    }
    for (const n of ["Host", "Forwarde", "Forwardedx", "X-Forwarded", "X-Forwarded-Fox", "X-Forwarded-Protocol", "X-Real-IP", "Y-Forwarded-For", "Content-Length", "x-forwarded-prot0"]) {
      expect(proxyHeaderBit(n)).toBe(0);
    }
  });
});

describe("without a trusted proxy", () => {
  test("a request with no proxy headers gets the direct origin and its own header list", () => {
    const h = head(["Accept", "*/*"]);
    const { origin } = run(h, STRANGER, options());
    expect(origin.url).toBe("http://example.com/x?y=1");
    expect(origin.headers).toBe(h.headers); // the same array: nothing copied
    expect(origin.remote).toEqual({ hostname: "203.0.113.9", port: 50002, transport: "tcp" });
    expect(origin.family).toBe("IPv4");
  });

  test("forged proxy headers have no effect and are removed, other fields keep their order", () => {
    const h = head([
      "X-Forwarded-For", "1.2.3.4",
      "Accept", "*/*",
      "x-forwarded-proto", "https",
      "X-Forwarded-Host", "evil.example",
      "X-Forwarded-Port", "444",
      "X-Forwarded-By", "1.1.1.1",
      "Forwarded", "for=1.2.3.4",
      "X-Real-IP", "1.2.3.4",
    ]);
    const { origin, logs } = run(h, STRANGER, options());
    expect(origin.url).toBe("http://example.com/x?y=1");
    expect(origin.remote.hostname).toBe("203.0.113.9");
    expect(origin.headers).toEqual(["Host", "example.com", "Accept", "*/*", "X-Real-IP", "1.2.3.4"]);
    expect(logs).toEqual([]);
  });

  test("--no-clear-untrusted-proxy-headers passes them to the app, still without effect", () => {
    const h = head(["X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https"]);
    const { origin } = run(h, STRANGER, options("--no-clear-untrusted-proxy-headers"));
    expect(origin.url).toBe("http://example.com/x?y=1");
    expect(origin.remote.hostname).toBe("203.0.113.9");
    expect(names(origin.headers)).toEqual(["Host", "X-Forwarded-For", "X-Forwarded-Proto"]);
  });

  test("--log-untrusted-proxy-headers logs the peer and the header names once per request", () => {
    const h = head(["X-Forwarded-For", "1.2.3.4", "forwarded", "for=1.2.3.4"]);
    const { logs } = run(h, STRANGER, options("--log-untrusted-proxy-headers"));
    expect(logs.length).toBe(1);
    expect(logs[0]).toContain("203.0.113.9");
    expect(logs[0]).toContain("Forwarded, X-Forwarded-For");
    expect(logs[0]).toContain("removed");
  });
});

describe("which peers are believed", () => {
  const xff = () => head(["X-Forwarded-For", "192.0.2.1"]);

  test("only the peer named by --trusted-proxy", () => {
    const o = xOptions();
    expect(run(xff(), PROXY, o).origin.remote.hostname).toBe("192.0.2.1");
    const other = run(xff(), STRANGER, o).origin;
    expect(other.remote.hostname).toBe("203.0.113.9");
    expect(names(other.headers)).toEqual(["Host"]);
  });

  test("* believes every peer", () => {
    const o = options("--trusted-proxy=*", "--trusted-proxy-headers=x-forwarded-for");
    expect(run(xff(), STRANGER, o).origin.remote.hostname).toBe("192.0.2.1");
    expect(run(xff(), UNIX, o).origin.remote.hostname).toBe("192.0.2.1");
  });

  test("an IPv4 proxy seen through a dual-stack listener as ::ffff:a.b.c.d is still the proxy", () => {
    const mapped: Peer = { ...PROXY, address: "::ffff:10.0.0.5", family: "IPv6" };
    expect(run(xff(), mapped, xOptions()).origin.remote.hostname).toBe("192.0.2.1");
  });

  test("an IPv6 proxy matches however the address is spelled", () => {
    const o = options("--trusted-proxy=2001:DB8:0:0::1", "--trusted-proxy-headers=x-forwarded-for");
    const peer: Peer = { address: "2001:db8::1", port: 1, family: "IPv6", transport: "tcp", localPort: 8080 };
    expect(run(xff(), peer, o).origin.remote.hostname).toBe("192.0.2.1");
    const long: Peer = { ...peer, address: "2001:0db8:0000::0001" };
    expect(run(xff(), long, o).origin.remote.hostname).toBe("192.0.2.1");
  });

  test("a link-local peer with a zone id (fe80::1%eth0) is compared as it is, and answered, not thrown on", () => {
    const o = options("--trusted-proxy=fe80::1", "--trusted-proxy-headers=x-forwarded-for");
    const zoned: Peer = { address: "fe80::1%eth0", port: 1, family: "IPv6", transport: "tcp", localPort: 8080 };
    expect(run(xff(), zoned, o).origin.remote.hostname).toBe("fe80::1%eth0");
  });

  test("localhost means a unix-socket peer (Waitress's REMOTE_ADDR for them), not 127.0.0.1", () => {
    const o = options("--trusted-proxy=localhost", "--trusted-proxy-headers=x-forwarded-for");
    expect(run(xff(), UNIX, o).origin.remote).toEqual({ hostname: "192.0.2.1", port: 0, transport: "tcp" });
    const loopback: Peer = { address: "127.0.0.1", port: 3, family: "IPv4", transport: "tcp", localPort: 8080 };
    expect(run(xff(), loopback, o).origin.remote.hostname).toBe("127.0.0.1");
  });

  test("an IP address never matches a unix-socket peer", () => {
    const r = run(xff(), UNIX, xOptions()).origin;
    expect(r.remote).toEqual({ hostname: "", port: 0, transport: "unix" });
    expect(names(r.headers)).toEqual(["Host"]);
  });

  test("--trusted-proxy alone believes X-Forwarded-Proto only (Waitress 3)", () => {
    const o = options("--trusted-proxy=10.0.0.5");
    const { origin } = run(head(["X-Forwarded-Proto", "https", "X-Forwarded-For", "192.0.2.1"]), PROXY, o);
    expect(origin.url).toBe("https://example.com/x?y=1");
    expect(origin.remote.hostname).toBe("10.0.0.5");
    expect(names(origin.headers)).toEqual(["Host", "X-Forwarded-Proto"]);
  });

  test("headers the trusted proxy sends but --trusted-proxy-headers does not name are removed and logged", () => {
    const o = options("--trusted-proxy=10.0.0.5", "--trusted-proxy-headers=x-forwarded-proto", "--log-untrusted-proxy-headers");
    const { origin, logs } = run(head(["X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"]), PROXY, o);
    expect(origin.url).toBe("https://example.com/x?y=1");
    expect(names(origin.headers)).toEqual(["Host", "X-Forwarded-Proto"]);
    expect(logs.length).toBe(1);
    expect(logs[0]).toContain("X-Forwarded-Host");
    expect(logs[0]).toContain("--trusted-proxy-headers");
  });

  test("a trusted proxy's request without proxy headers is served as is", () => {
    const h = head(["Accept", "*/*"]);
    const { origin } = run(h, PROXY, xOptions());
    expect(origin.url).toBe("http://example.com/x?y=1");
    expect(origin.headers).toBe(h.headers);
  });
});

describe("X-Forwarded-For", () => {
  const client = (value: string | string[], ...more: string[]) => {
    const fields = (Array.isArray(value) ? value : [value]).flatMap((v) => ["X-Forwarded-For", v]);
    return run(head(fields), PROXY, xOptions(...more)).origin;
  };

  test("the rightmost hop is the client with --trusted-proxy-count=1; the app still sees the header", () => {
    const o = client("198.51.100.1, 192.0.2.1");
    expect(o.remote).toEqual({ hostname: "192.0.2.1", port: 40001, transport: "tcp" });
    expect(o.family).toBe("IPv4");
    expect(o.headers).toContain("198.51.100.1, 192.0.2.1");
  });

  test("--trusted-proxy-count=2 walks one more hop to the left", () => {
    expect(client("203.0.113.1, 198.51.100.1, 192.0.2.1", "--trusted-proxy-count=2").remote.hostname).toBe("198.51.100.1");
  });

  test("a chain shorter than the count names its leftmost hop", () => {
    expect(client("192.0.2.1", "--trusted-proxy-count=3").remote.hostname).toBe("192.0.2.1");
  });

  test("several field lines are one list, in order (RFC 9110 §5.3)", () => {
    expect(client(["198.51.100.1", "192.0.2.1"]).remote.hostname).toBe("192.0.2.1");
    expect(client(["198.51.100.1", "192.0.2.1"], "--trusted-proxy-count=2").remote.hostname).toBe("198.51.100.1");
  });

  test("IPv6 hops, bare or bracketed, with a port when bracketed", () => {
    expect(client("2001:db8::7")).toMatchObject({ remote: { hostname: "2001:db8::7", port: 40001 }, family: "IPv6" });
    expect(client("[2001:db8::7]").remote.hostname).toBe("2001:db8::7");
    expect(client("[2001:db8::7]:4711").remote).toEqual({ hostname: "2001:db8::7", port: 4711, transport: "tcp" });
  });

  test("an IPv4 hop with a port gives the client's port", () => {
    expect(client("192.0.2.1:5555").remote).toEqual({ hostname: "192.0.2.1", port: 5555, transport: "tcp" });
  });

  test("a quoted hop is unquoted (Waitress's undquote)", () => {
    expect(client('"[2001:db8::7]:80"').remote.hostname).toBe("2001:db8::7");
  });

  test("hops left of the trusted ones are the client's own claim: not parsed, not a 400", () => {
    expect(client("unknown, not-an-ip, 192.0.2.1").remote.hostname).toBe("192.0.2.1");
  });

  for (const bad of ["junk", "unknown", "192.0.2.1.5", "192.0.2.1:0", "192.0.2.1:99999", "[2001:db8::7", "2001:db8::7:80:x", "192.0.2.1, ", "", '"192.0.2.1', "[192.0.2.1]"]) {
    test(`a trusted hop ${JSON.stringify(bad)} is a 400 naming X-Forwarded-For`, () => {
      const { error, logs } = refused(head(["X-Forwarded-For", bad]), PROXY, xOptions());
      expect(error.status).toBe(400);
      expect(error.message).toContain("X-Forwarded-For");
      expect(logs.join("\n")).toContain("10.0.0.5");
    });
  }

  // Issue 13: isIP() takes a zone id of any length and content; a client address carries at most
  // an interface name or number (MAX_ZONE_ID_LENGTH).
  test("an IPv6 hop with a zone id of up to 15 unreserved chars is the client", () => {
    expect(client("fe80::1%eth0").remote.hostname).toBe("fe80::1%eth0");
    expect(client(`fe80::1%${"a".repeat(MAX_ZONE_ID_LENGTH)}`).remote.hostname).toBe(`fe80::1%${"a".repeat(15)}`);
    expect(client("[fe80::1%2]:8080").remote).toEqual({ hostname: "fe80::1%2", port: 8080, transport: "tcp" });
  });

  for (const bad of [`fe80::1%${"a".repeat(16)}`, `fe80::1%${"a".repeat(5000)}`, `[fe80::1%${"a".repeat(16)}]:80`, "fe80::1%", "fe80::1%a%b", "fe80::1%a:b"]) {
    test(`a hop with the zone id ${JSON.stringify(bad.slice(8, 40))} (${bad.length} chars) is a 400`, () => {
      const { error } = refused(head(["X-Forwarded-For", bad]), PROXY, xOptions());
      expect(error.message).toContain("X-Forwarded-For");
    });
  }

  test("with --trusted-proxy-count=2 the second hop from the right is checked too", () => {
    const { error } = refused(head(["X-Forwarded-For", "junk, 192.0.2.1"]), PROXY, xOptions("--trusted-proxy-count=2"));
    expect(error.message).toContain("X-Forwarded-For");
  });

  test("a unix-socket proxy's client is a TCP client with the proxy's port 0", () => {
    const o = options("--trusted-proxy=localhost", "--trusted-proxy-headers=x-forwarded-for");
    const { origin } = run(head(["X-Forwarded-For", "2001:db8::1"]), UNIX, o);
    expect(origin.remote).toEqual({ hostname: "2001:db8::1", port: 0, transport: "tcp" });
    expect(origin.family).toBe("IPv6");
  });
});

describe("X-Forwarded-Proto", () => {
  const url = (fields: string[], ...more: string[]) => run(head(fields), PROXY, xOptions(...more)).origin.url;
  const refusal = (fields: string[]) => refused(head(fields), PROXY, xOptions()).error;

  test("sets the scheme of request.url and keeps the Host as sent", () => {
    expect(url(["X-Forwarded-Proto", "https"])).toBe("https://example.com/x?y=1");
    expect(url(["X-Forwarded-Proto", "HTTPS"])).toBe("https://example.com/x?y=1");
    expect(url(["X-Forwarded-Proto", '"https"'])).toBe("https://example.com/x?y=1");
    expect(url(["X-Forwarded-Proto", "http"], "--url-scheme=https")).toBe("http://example.com/x?y=1");
  });

  test("a scheme other than http or https is a 400", () => {
    const e = refusal(["X-Forwarded-Proto", "ftp"]);
    expect(e.status).toBe(400);
    expect(e.message).toContain("X-Forwarded-Proto");
  });

  test("two values, in one line or two, are a 400", () => {
    expect(refusal(["X-Forwarded-Proto", "https, http"]).message).toContain("X-Forwarded-Proto");
    expect(refusal(["X-Forwarded-Proto", "https", "X-Forwarded-Proto", "https"]).message).toContain("X-Forwarded-Proto");
  });

  test("a badly quoted value is a 400 that says so", () => {
    expect(refusal(["X-Forwarded-Proto", '"https']).message).toBe("Malformed X-Forwarded-Proto header: badly quoted");
  });

  test("the 400 is logged with the peer and the offending value", () => {
    const { logs } = refused(head(["X-Forwarded-Proto", "gopher"]), PROXY, xOptions());
    expect(logs).toEqual(['400 for 10.0.0.5: Malformed X-Forwarded-Proto header: the scheme must be http or https; the value was "gopher"']);
  });

  test("with no Host (HTTP/1.0) the URL names --server-name", () => {
    const h = head(["X-Forwarded-Proto", "https"], { authority: null, versionMinor: 0 });
    h.headers = h.headers.slice(2);
    expect(run(h, PROXY, xOptions("--server-name=app.example")).origin.url).toBe("https://app.example:8080/x?y=1");
  });
});

describe("X-Forwarded-Host and X-Forwarded-Port", () => {
  const go = (fields: string[], ...more: string[]) => run(head(fields), PROXY, xOptions(...more)).origin;
  const refusal = (fields: string[]) => refused(head(fields), PROXY, xOptions()).error;
  const hostOf = (o: RequestOrigin) => o.headers[o.headers.findIndex((n) => n.toLowerCase() === "host") + 1];

  test("X-Forwarded-Host is request.url's host and the Host the app sees", () => {
    const o = go(["X-Forwarded-Host", "shop.example"]);
    expect(o.url).toBe("http://shop.example/x?y=1");
    expect(hostOf(o)).toBe("shop.example");
    expect(o.headers.filter((n) => n.toLowerCase() === "host").length).toBe(1);
  });

  test("with https and no port, the default port is left out", () => {
    expect(go(["X-Forwarded-Host", "shop.example", "X-Forwarded-Proto", "https"]).url).toBe("https://shop.example/x?y=1");
  });

  test("X-Forwarded-Port is added unless it is the scheme's default", () => {
    expect(go(["X-Forwarded-Host", "shop.example", "X-Forwarded-Port", "8443", "X-Forwarded-Proto", "https"]).url).toBe("https://shop.example:8443/x?y=1");
    expect(go(["X-Forwarded-Host", "shop.example", "X-Forwarded-Port", "443", "X-Forwarded-Proto", "https"]).url).toBe("https://shop.example/x?y=1");
    expect(go(["X-Forwarded-Host", "shop.example", "X-Forwarded-Port", "80", "X-Forwarded-Proto", "https"]).url).toBe("https://shop.example:80/x?y=1");
  });

  test("a port inside X-Forwarded-Host wins over X-Forwarded-Port (Waitress)", () => {
    expect(go(["X-Forwarded-Host", "shop.example:9000", "X-Forwarded-Port", "8443"]).url).toBe("http://shop.example:9000/x?y=1");
  });

  test("X-Forwarded-Port alone replaces the port of the Host", () => {
    const h = head(["X-Forwarded-Port", "8443"]);
    h.headers[1] = "example.com:8080";
    h.authority = "example.com:8080" as Authority;
    const o = run(h, PROXY, xOptions()).origin;
    expect(o.url).toBe("http://example.com:8443/x?y=1");
    expect(hostOf(o)).toBe("example.com:8443");
  });

  test("IPv6 literal hosts keep their brackets", () => {
    expect(go(["X-Forwarded-Host", "[2001:db8::1]", "X-Forwarded-Port", "8080"]).url).toBe("http://[2001:db8::1]:8080/x?y=1");
  });

  test("a list of hosts is walked like X-Forwarded-For", () => {
    expect(go(["X-Forwarded-Host", "outer.example, inner.example"]).url).toBe("http://inner.example/x?y=1");
    expect(go(["X-Forwarded-Host", "outer.example, inner.example"], "--trusted-proxy-count=2").url).toBe("http://outer.example/x?y=1");
  });

  // The last five: authorities request.url cannot carry (issue 12 defect 2, http/authority.ts).
  for (const bad of ["", "a b", "shop.example:", "shop.example:0", "shop.example:70000", "shop/example", "[::1", "[4712::abcd::]", "a:99999", "a.1", "[v1.x]", "xn--a"]) {
    test(`X-Forwarded-Host ${JSON.stringify(bad)} is a 400`, () => {
      expect(refusal(["X-Forwarded-Host", bad]).message).toContain("X-Forwarded-Host");
    });
  }

  for (const bad of ["", "abc", "0", "65536", "-1", "80, 443", "123456"]) {
    test(`X-Forwarded-Port ${JSON.stringify(bad)} is a 400`, () => {
      expect(refusal(["X-Forwarded-Port", bad]).message).toContain("X-Forwarded-Port");
    });
  }

  test("two X-Forwarded-Port lines are a 400", () => {
    expect(refusal(["X-Forwarded-Port", "80", "X-Forwarded-Port", "80"]).message).toContain("X-Forwarded-Port");
  });

  test("X-Forwarded-By is kept for the app when trusted, and removed when not", () => {
    expect(names(go(["X-Forwarded-By", "10.0.0.5"]).headers)).toContain("X-Forwarded-By");
    const o = options("--trusted-proxy=10.0.0.5", "--trusted-proxy-headers=x-forwarded-for");
    expect(names(run(head(["X-Forwarded-By", "10.0.0.5"]), PROXY, o).origin.headers)).toEqual(["Host"]);
  });
});

describe("Forwarded (RFC 7239)", () => {
  const go = (value: string | string[], ...more: string[]) => {
    const fields = (Array.isArray(value) ? value : [value]).flatMap((v) => ["Forwarded", v]);
    return run(head(fields), PROXY, fwdOptions(...more)).origin;
  };
  const refusal = (value: string) => refused(head(["Forwarded", value]), PROXY, fwdOptions()).error;

  test("for=, proto= and host= of the last element", () => {
    const o = go("for=198.51.100.1, for=192.0.2.60;proto=https;host=shop.example;by=10.0.0.5");
    expect(o.url).toBe("https://shop.example/x?y=1");
    expect(o.remote).toEqual({ hostname: "192.0.2.60", port: 40001, transport: "tcp" });
  });

  test("parameter names are case-insensitive, values may be quoted, IPv6 with a port", () => {
    const o = go('For="[2001:db8:cafe::17]:4711";PROTO=HTTPS;Host="shop.example:8443"');
    expect(o.url).toBe("https://shop.example:8443/x?y=1");
    expect(o.remote).toEqual({ hostname: "2001:db8:cafe::17", port: 4711, transport: "tcp" });
    expect(o.family).toBe("IPv6");
  });

  test("with --trusted-proxy-count=2 the older trusted element supplies each value it carries", () => {
    const o = go("for=192.0.2.43;proto=https;host=shop.example, for=10.1.1.1;proto=http;host=internal.example", "--trusted-proxy-count=2");
    expect(o.url).toBe("https://shop.example/x?y=1");
    expect(o.remote.hostname).toBe("192.0.2.43");
  });

  test("elements older than the trusted ones are ignored, even malformed for= values", () => {
    expect(go("for=unknown, for=192.0.2.43").remote.hostname).toBe("192.0.2.43");
  });

  test("several field lines are one list; empty elements are ignored (RFC 9110 §5.6.1)", () => {
    expect(go(["for=198.51.100.1", "for=192.0.2.43"]).remote.hostname).toBe("192.0.2.43");
    expect(go("for=192.0.2.43, ,").remote.hostname).toBe("192.0.2.43");
  });

  test("a quoted comma does not split elements", () => {
    expect(go('for=192.0.2.43;ext="a,b"').remote.hostname).toBe("192.0.2.43");
  });

  test("when Forwarded is trusted, X-Forwarded-* are untrusted and removed", () => {
    const h = head(["Forwarded", "for=192.0.2.43", "X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "https"]);
    const o = run(h, PROXY, fwdOptions()).origin;
    expect(o.remote.hostname).toBe("192.0.2.43");
    expect(o.url).toBe("http://example.com/x?y=1");
    expect(names(o.headers)).toEqual(["Host", "Forwarded"]);
  });

  for (const bad of [
    "for=unknown",
    "for=_hidden",
    "for=2001:db8::1", // unquoted: ":" is not a tchar
    'for="2001:db8::1"', // IPv6 needs brackets (RFC 7239 §6)
    "for=192.0.2.43;for=192.0.2.44",
    "for",
    "for=",
    'for="192.0.2.43',
    "for=192.0.2.43 ;proto=http",
    "for = 192.0.2.43",
    "proto=ftp",
    "host=a/b",
    "for=192.0.2.43 proto=http",
  ]) {
    test(`${JSON.stringify(bad)} is a 400 naming Forwarded`, () => {
      const e = refusal(bad);
      expect(e.status).toBe(400);
      expect(e.message).toContain("Forwarded");
    });
  }
});

describe("with --url-prefix", () => {
  test("the vouched scheme and host combine with the stripped path", () => {
    const h = head(["X-Forwarded-Proto", "https", "X-Forwarded-Host", "shop.example"], { path: "/app/items?page=2" });
    expect(run(h, PROXY, xOptions("--url-prefix=/app")).origin.url).toBe("https://shop.example/items?page=2");
  });
});

describe("an absolute-form target's scheme (RFC 9112 §3.2.2, issue 13)", () => {
  const absolute = (scheme: string, fields: string[] = []) => {
    const h = head(fields, { path: "/p" });
    h.target = `${scheme}://example.com/p`;
    h.scheme = scheme;
    return h;
  };

  test("the connection's scheme is accepted", () => {
    expect(run(absolute("http"), STRANGER, options()).origin.url).toBe("http://example.com/p");
    expect(run(absolute("https"), STRANGER, options("--url-scheme=https")).origin.url).toBe("https://example.com/p");
  });

  test("an https:// target on a plain connection is a 400, not an https request.url", () => {
    const { error } = refused(absolute("https"), STRANGER, options());
    expect(error.status).toBe(400);
    expect(error.message).toBe("Request-target scheme is not http");
  });

  test("another scheme is a 400", () => {
    expect(refused(absolute("ftp"), STRANGER, options()).error.status).toBe(400);
  });

  test("behind a trusted proxy the scheme it vouched for is the one to match", () => {
    expect(run(absolute("https", ["X-Forwarded-Proto", "https"]), PROXY, xOptions()).origin.url).toBe("https://example.com/p");
    expect(refused(absolute("http", ["X-Forwarded-Proto", "https"]), PROXY, xOptions()).error.status).toBe(400);
  });
});
