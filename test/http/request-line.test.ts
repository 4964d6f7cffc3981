// Request line (RFC 9112 §3): method SP request-target SP HTTP-version CRLF, one SP each, the
// four request-target forms (§3.2), the version (§2.3, RFC 9110 §6.2), leading empty lines (§2.2).
import { describe } from "bun:test";
import { accepts, registerRows, rejects, waits } from "./table.ts";
import type { Row } from "./table.ts";

const H = "Host: example.com\r\n";

describe("method (RFC 9112 §3.1, RFC 9110 §9.1: a case-sensitive token)", () => {
  const rows: Row[] = [
    ["GET", `GET / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "GET", target: "/", path: "/", versionMinor: 1 })],
    ["case is preserved, not upper-cased", `get / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "get" })],
    ["an unregistered method is a token like any other", `FOO-BAR / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "FOO-BAR" })],
    ["every tchar is allowed", `!#$%&'*+-.^_\`|~09azAZ / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "!#$%&'*+-.^_`|~09azAZ" })],
    ["empty method", ` / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["'@' is not a tchar", `GE@T / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["'(' is not a tchar", `GET( / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a CTL in the method", `bad_method\x01 /foo/bar HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["obs-text in the method", `G\xc9T / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["NUL in the method", `GE\x00T / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["CONNECT is not served: tray does not tunnel", `CONNECT example.com:443 HTTP/1.1\r\n${H}\r\n`, rejects(501)],
  ];
  registerRows(rows);
});

describe("separators: exactly one SP (RFC 9112 §3)", () => {
  const rows: Row[] = [
    ["two SP after the method", `GET  / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["two SP before the version", `GET /  HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["HTAB instead of SP", `GET\t/ HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["HTAB inside the target", `GET /endpoint_a\tHTTP/1.1\r\nHost:localhost\r\n\r\n`, rejects(400)],
    ["SP at the end of the line", `GET / HTTP/1.1 \r\n${H}\r\n`, rejects(400)],
    ["SP at the start of the line", ` GET / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a space inside the target", `GET /foo bar/ HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a second version after a space", `GET /a HTTP/1.1 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["no target", `GET HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["nothing but the method", `GET\r\n${H}\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("HTTP-version (RFC 9112 §2.3: HTTP/ DIGIT . DIGIT, case-sensitive)", () => {
  const rows: Row[] = [
    ["HTTP/1.1", `GET / HTTP/1.1\r\n${H}\r\n`, accepts({ versionMinor: 1, keepAlive: true })],
    ["HTTP/1.0 with no Host", `GET / HTTP/1.0\r\n\r\n`, accepts({ versionMinor: 0, authority: null, keepAlive: false })],
    ["HTTP/1.0 with a Host", `GET / HTTP/1.0\r\n${H}\r\n`, accepts({ versionMinor: 0, authority: "example.com" })],
    ["a later 1.x is served as 1.1 (RFC 9110 §6.2)", `GET / HTTP/1.7\r\n${H}\r\n`, accepts({ versionMinor: 7, keepAlive: true })],
    ["a later 1.x still needs a Host", `GET / HTTP/1.7\r\n\r\n`, rejects(400)],
    ["HTTP/2.0 -> 505", `GET / HTTP/2.0\r\n${H}\r\n`, rejects(505)],
    ["HTTP/3.0 -> 505", `GET / HTTP/3.0\r\n${H}\r\n`, rejects(505)],
    ["HTTP/9.9 -> 505", `GET / HTTP/9.9\r\n${H}\r\n`, rejects(505)],
    ["the h2 preface is refused, not tunnelled", `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`, rejects([400, 505])],
    // A well-formed version whose major is not 1 is refused as a version (RFC 9110 §15.6.6), as
    // Go's net/http answers "GET / HTTP/0.9"; only a line that is not HTTP-version syntax is a 400.
    ["HTTP/0.9 -> 505", `GET / HTTP/0.9\r\n${H}\r\n`, rejects(505)],
    ["HTTP/0.x -> 505", `GET / HTTP/0.1\r\n${H}\r\n`, rejects(505)],
    ["no version at all (HTTP/0.9 simple request)", `GET /\r\n\r\n`, rejects(400)],
    ["lower-case http", `GET / http/1.1\r\n${H}\r\n`, rejects(400)],
    ["two minor digits", `GET / HTTP/1.10\r\n${H}\r\n`, rejects(400)],
    ["two major digits", `GET / HTTP/11.1\r\n${H}\r\n`, rejects(400)],
    ["no minor version", `GET / HTTP/1\r\n${H}\r\n`, rejects(400)],
    ["no dot", `GET / HTTP/11\r\n${H}\r\n`, rejects(400)],
    ["a letter for a digit", `GET / HTTP/1.x\r\n${H}\r\n`, rejects(400)],
    ["a different protocol name", `GET /music/sweet/music IHTTP/1.0\r\n${H}\r\n`, rejects(400)],
    ["RTSP", `OPTIONS /url RTSP/1.0\r\n${H}\r\n`, rejects(400)],
    ["a valid prefix waits", `GET / HTTP/1.`, waits()],
  ];
  registerRows(rows);
});

describe("request-target forms (RFC 9112 §3.2)", () => {
  const rows: Row[] = [
    ["origin-form with a query", `GET /a/b?c=d&e HTTP/1.1\r\n${H}\r\n`, accepts({ target: "/a/b?c=d&e", path: "/a/b?c=d&e", authority: "example.com" })],
    ["origin-form keeps percent-encoding as sent", `GET /%41%zz HTTP/1.1\r\n${H}\r\n`, accepts({ target: "/%41%zz", path: "/%41%zz" })],
    [
      "absolute-form: its authority overrides Host (§3.2.2)",
      `GET http://other.example:8080/x?y HTTP/1.1\r\n${H}\r\n`,
      accepts({ target: "http://other.example:8080/x?y", path: "/x?y", authority: "other.example:8080" }),
    ],
    ["absolute-form https", `GET https://a.example/ HTTP/1.1\r\n${H}\r\n`, accepts({ path: "/", authority: "a.example" })],
    ["absolute-form with an empty path means / (RFC 9110 §4.2.3)", `GET http://a.example HTTP/1.1\r\n${H}\r\n`, accepts({ path: "/", authority: "a.example" })],
    [
      "absolute-form with a query but no path gets / in front (RFC 9110 §4.2.3)",
      `GET http://a.example?q=1 HTTP/1.1\r\n${H}\r\n`,
      accepts({ target: "http://a.example?q=1", path: "/?q=1", authority: "a.example" }),
    ],
    ["absolute-form on HTTP/1.0 with no Host gives the authority", `GET http://a.example/p HTTP/1.0\r\n\r\n`, accepts({ path: "/p", authority: "a.example", versionMinor: 0 })],
    ["absolute-form on HTTP/1.1 still needs a Host field (§3.2.2)", `GET http://a.example/p HTTP/1.1\r\n\r\n`, rejects(400)],
    [
      "absolute-form: the Host the app sees is replaced by the target's authority (§3.2.2)",
      `GET http://evil.example/ HTTP/1.1\r\nX: 1\r\nHost: good.example\r\n\r\n`,
      accepts({ authority: "evil.example", scheme: "http", headers: ["X", "1", "Host", "evil.example"] }),
    ],
    [
      "absolute-form on HTTP/1.0 with no Host: one is added from the target",
      `GET http://a.example:81/p HTTP/1.0\r\n\r\n`,
      accepts({ authority: "a.example:81", headers: ["Host", "a.example:81"] }),
    ],
    ["absolute-form: the scheme is kept, lower-cased", `GET HTTPS://a.example/ HTTP/1.1\r\n${H}\r\n`, accepts({ scheme: "https" })],
    ["origin-form has no scheme", `GET / HTTP/1.1\r\n${H}\r\n`, accepts({ scheme: null, headers: ["Host", "example.com"] })],
    // Issue 12 defect 2: the target's authority obeys the rule Host does (authority.ts).
    ["absolute-form with a port above 65535", `GET http://a:99999/ HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["absolute-form with a bad IPv6 literal", `GET http://[4712::abcd::]/ HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    // RFC 3986 §7.4: a reg-name the URL parser would read as an IPv4 address (Apache's http_strict.t).
    ["absolute-form with an octal IPv4 host", `GET http://017700000001/ HTTP/1.0\r\n\r\n`, rejects(400)],
    ["absolute-form with a hex IPv4 host", `GET http://0x7f.1/ HTTP/1.0\r\n\r\n`, rejects(400)],
    ["absolute-form with a leading-zero IPv4 host", `GET http://127.01.0.1/ HTTP/1.0\r\n\r\n`, rejects(400)],
    ["absolute-form with a pct-encoded IPv4 host", `GET http://%3127.0.0.1/ HTTP/1.0\r\n\r\n`, rejects(400)],
    ["absolute-form with a dotted-decimal IPv4 host", `GET http://127.0.0.1/ HTTP/1.0\r\n\r\n`, accepts({ authority: "127.0.0.1" })],
    ["absolute-form with an empty authority", `GET http:///x HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["absolute-form with userinfo", `GET http://u@a.example/ HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["asterisk-form with OPTIONS", `OPTIONS * HTTP/1.1\r\n${H}\r\n`, accepts({ method: "OPTIONS", target: "*", path: "*" })],
    ["asterisk-form with GET (§3.2.4: OPTIONS only)", `GET * HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["authority-form with GET (§3.2.3: CONNECT only)", `GET example.com:443 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["authority-form with CONNECT -> 501", `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, rejects(501)],
    ["a relative path is no form at all", `GET a/b HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a NUL in the target", `GET /endpoint_a\x00HTTP/1.1 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a NUL at the start of the target", `GET \x00/a HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a DEL in the target", `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a CTL in the target", `GET /a\x1bb HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["raw UTF-8 in the target is not a URI (RFC 3986 §2)", `GET /\xce\xb4 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("line endings in the request line (RFC 9112 §2.2: CRLF only here)", () => {
  const rows: Row[] = [
    ["bare LF ends the request line", `GET / HTTP/1.1\n${H}\r\n`, rejects(400)],
    ["bare CR ends the request line", `GET / HTTP/1.1\r${H}\r\n`, rejects(400)],
    ["CR inside the target", `GET /endpoint_a\rHTTP/1.1 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["LF inside the target", `GET /endpoint_a\nHTTP/1.1 HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["CR CR LF", `GET / HTTP/1.1\r\r\n${H}\r\n`, rejects(400)],
    ["only LFs everywhere", `GET / HTTP/1.1\nHost: a\n\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("empty lines before the request line (RFC 9112 §2.2: ignore at least one, bounded)", () => {
  const rows: Row[] = [
    ["one CRLF first", `\r\nGET / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "GET" })],
    ["three CRLF first", `\r\n\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, accepts({ method: "GET" })],
    ["a bare LF first", `\nGET / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a bare CR first", `\rGET / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["a space-only line first", ` \r\nGET / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["only CRLFs so far waits", `\r\n\r\n`, waits()],
    ["a flood of empty lines is refused, not buffered", `${"\r\n".repeat(200)}GET / HTTP/1.1\r\n${H}\r\n`, rejects(400)],
  ];
  registerRows(rows);
});
