// Header fields (RFC 9112 §5, RFC 9110 §5): token names, no whitespace before the colon, values
// trimmed of SP/HTAB only, no CTLs, obs-text kept byte-exact, obs-fold refused; Host (RFC 9112
// §3.2, RFC 9110 §7.2); Connection (RFC 9112 §9.3); Expect (RFC 9110 §10.1.1).
import { describe, expect, test } from "bun:test";
import { accepts, registerRows, rejects, waits } from "./table.ts";
import type { Row } from "./table.ts";

const H = "Host: example.com\r\n";

describe("field lines are kept as sent: order, case, duplicates", () => {
  const rows: Row[] = [
    [
      "names keep their case, fields their order, repeats stay separate",
      `GET / HTTP/1.1\r\nX-b: 1\r\nhost: example.com\r\nX-A: 2\r\nx-b: 3\r\n\r\n`,
      accepts({ headers: ["X-b", "1", "host", "example.com", "X-A", "2", "x-b", "3"], authority: "example.com" }),
    ],
    ["no space after the colon", `GET / HTTP/1.1\r\n${H}aaaaaaaaaaaaa:++++++++++\r\n\r\n`, accepts({ headers: ["Host", "example.com", "aaaaaaaaaaaaa", "++++++++++"] })],
    ["leading and trailing SP/HTAB are trimmed (§5.1)", `GET / HTTP/1.1\r\n${H}X: \t a b \t \r\n\r\n`, accepts({ headers: ["Host", "example.com", "X", "a b"] })],
    ["HTAB inside a value is kept", `GET / HTTP/1.1\r\n${H}X: a\tb\r\n\r\n`, accepts({ headers: ["Host", "example.com", "X", "a\tb"] })],
    ["an empty value", `GET / HTTP/1.1\r\n${H}X:\r\n\r\n`, accepts({ headers: ["Host", "example.com", "X", ""] })],
    ["a value of only whitespace is empty", `GET / HTTP/1.1\r\n${H}X: \t \r\n\r\n`, accepts({ headers: ["Host", "example.com", "X", ""] })],
    [
      "obs-text (0x80-0xFF) is kept byte-exact as latin-1",
      `GET / HTTP/1.1\r\n${H}Test: D\xc3\xbcsseldorf \xff\x80\r\n\r\n`,
      accepts({ headers: ["Host", "example.com", "Test", "D\xc3\xbcsseldorf \xff\x80"] }),
    ],
    ["every tchar is allowed in a name", `GET / HTTP/1.1\r\n${H}!#$%&'*+-.^_\`|~09az: v\r\n\r\n`, accepts({ headers: ["Host", "example.com", "!#$%&'*+-.^_`|~09az", "v"] })],
    ["a colon inside the value is data", `GET / HTTP/1.1\r\n${H}X: a: b\r\n\r\n`, accepts({ headers: ["Host", "example.com", "X", "a: b"] })],
    ["a value that looks like a field line is data", `GET / HTTP/1.1\r\n${H}X: Transfer-Encoding: chunked\r\n\r\n`, accepts({ chunked: false })],
  ];
  registerRows(rows);
});

describe("field names (RFC 9110 §5.1: token; RFC 9112 §5.1: no whitespace before the colon)", () => {
  const rows: Row[] = [
    ["SP before the colon", `GET / HTTP/1.1\r\n${H}X-Custom : v\r\n\r\n`, rejects(400)],
    ["HTAB before the colon", `GET / HTTP/1.1\r\n${H}X-Custom\t: v\r\n\r\n`, rejects(400)],
    ["SP before the colon of Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length : 4\r\n\r\nabcd`, rejects(400)],
    ["SP before the colon of Transfer-Encoding", `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["an empty name", `GET / HTTP/1.1\r\n${H}: v\r\n\r\n`, rejects(400)],
    ["no colon at all", `GET / HTTP/1.1\r\n${H}X-Custom\r\n\r\n`, rejects(400)],
    ["'@' in a name", `GET / HTTP/1.1\r\n${H}Fo@: v\r\n\r\n`, rejects(400)],
    ["a CTL in a name", `GET / HTTP/1.1\r\n${H}Foo\x01\test: v\r\n\r\n`, rejects(400)],
    ["NUL in a name", `GET / HTTP/1.1\r\n${H}X-Bad\x00: v\r\n\r\n`, rejects(400)],
    ["NUL before a name", `GET / HTTP/1.1\r\n${H}\x00X-Bad: v\r\n\r\n`, rejects(400)],
    ["obs-text in a name", `GET / HTTP/1.1\r\n${H}X-Caf\xe9: v\r\n\r\n`, rejects(400)],
    ["'/' in a name", `GET / HTTP/1.1\r\n${H}X/Y: v\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("field values (RFC 9110 §5.5: no CTL but HTAB, no NUL/CR/LF)", () => {
  const rows: Row[] = [
    ["NUL in a value", `GET / HTTP/1.1\r\n${H}X: a\x00b\r\n\r\n`, rejects(400)],
    ["NUL at the start of a value", `GET / HTTP/1.1\r\n${H}X: \x00b\r\n\r\n`, rejects(400)],
    ["NUL at the end of a value", `GET / HTTP/1.1\r\n${H}X: b\x00\r\n\r\n`, rejects(400)],
    ["form feed in a value", `GET / HTTP/1.1\r\n${H}X: hello\x0cworld\r\n\r\n`, rejects(400)],
    ["a value that is only a form feed", `GET / HTTP/1.1\r\n${H}X: \x0c\r\n\r\n`, rejects(400)],
    ["0x01 in a value", `GET / HTTP/1.1\r\n${H}X: \x01v\r\n\r\n`, rejects(400)],
    ["ESC in a value", `GET / HTTP/1.1\r\n${H}X: a\x1bb\r\n\r\n`, rejects(400)],
    ["DEL in a value", `GET / HTTP/1.1\r\n${H}X: a\x7fb\r\n\r\n`, rejects(400)],
    ["VT in a value", `GET / HTTP/1.1\r\n${H}X: a\x0bb\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("line endings in the header section (RFC 9112 §2.2: no bare CR or LF)", () => {
  const rows: Row[] = [
    ["bare CR inside a value", `GET / HTTP/1.1\r\n${H}X: value\rcontent-length: 1000\r\n\r\n`, rejects(400)],
    ["bare CR inside a name", `GET / HTTP/1.1\r\n${H}Content\rLength: 3\r\n\r\nabc`, rejects(400)],
    ["bare CR before the colon", `GET / HTTP/1.1\r\n${H}X-Bad\r: 1000\r\n\r\n`, rejects(400)],
    ["bare CR between field lines", `GET / HTTP/1.1\r\nFoo: 1\rBar: 2\r\n${H}\r\n`, rejects(400)],
    ["bare CR after an empty value", `GET / HTTP/1.1\r\n${H}x:\rTransfer-Encoding: chunked\r\n\r\n`, rejects(400)],
    ["bare CR at the start of a line", `GET / HTTP/1.1\r\n${H}\rTransfer-Encoding: chunked\r\n\r\n`, rejects(400)],
    ["bare CR in place of the final CRLF", `GET / HTTP/1.1\r\n${H}\rZGET /evil HTTP/1.1\r\n${H}\r\n`, rejects(400)],
    ["bare LF between field lines", `GET / HTTP/1.1\r\nx:x\nTransfer-Encoding: chunked\r\n${H}\r\n`, rejects(400)],
    ["bare LF after an empty value", `GET / HTTP/1.1\r\n${H}x:\nTransfer-Encoding: chunked\r\n\r\n`, rejects(400)],
    ["bare LF inside a name", `GET / HTTP/1.1\r\n${H}X-Bad\n: v\r\n\r\n`, rejects(400)],
    ["bare LF ends the header section", `GET / HTTP/1.1\r\n${H}\n`, rejects(400)],
    ["CRLF then a bare LF ends the header section", `GET / HTTP/1.1\r\n${H}\n\r\n`, rejects(400)],
    ["CR CR LF ends a field line", `GET / HTTP/1.1\r\n${H}X: a\r\r\n\r\n`, rejects(400)],
    ["a head cut after CRLF CR waits", `GET / HTTP/1.1\r\n${H}\r`, waits()],
  ];
  registerRows(rows);
});

describe("obs-fold and leading whitespace (RFC 9112 §5.2, §2.2)", () => {
  const rows: Row[] = [
    ["obs-fold with SP", `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`, rejects(400)],
    ["obs-fold with HTAB", `GET / HTTP/1.1\r\n${H}X: a\r\n\tb\r\n\r\n`, rejects(400)],
    ["obs-fold of an empty value", `GET / HTTP/1.1\r\n${H}Connection:\r\n close\r\n\r\n`, rejects(400)],
    ["obs-fold hiding a field line", `POST / HTTP/1.1\r\n${H}X: a\r\n Content-Length: 3\r\n\r\nabc`, rejects(400)],
    ["a name folded onto the next line", `GET / HTTP/1.1\r\n${H}name\r\n : value\r\n\r\n`, rejects(400)],
    ["whitespace before the first field line", `GET / HTTP/1.1\r\n ${H}\r\n`, rejects(400)],
    ["HTAB before the first field line", `GET / HTTP/1.1\r\n\t${H}\r\n`, rejects(400)],
    ["whitespace before a later Content-Length", `POST / HTTP/1.1\r\n${H} Content-Length: 3\r\n\r\nabc`, rejects(400)],
  ];
  registerRows(rows);
});

describe("Host (RFC 9112 §3.2: exactly one valid Host on HTTP/1.1; RFC 9110 §7.2)", () => {
  const rows: Row[] = [
    ["reg-name", `GET / HTTP/1.1\r\nHost: example.com\r\n\r\n`, accepts({ authority: "example.com" })],
    ["reg-name and port", `GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n`, accepts({ authority: "example.com:8080" })],
    ["IPv4 and port", `GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n`, accepts({ authority: "127.0.0.1:8080" })],
    ["IPv6 literal", `GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n`, accepts({ authority: "[::1]" })],
    ["IPv6 literal and port", `GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n`, accepts({ authority: "[::1]:8080" })],
    ["an empty port is allowed (RFC 3986 §3.2.3)", `GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n`, accepts({ authority: "example.com:" })],
    ["sub-delims and underscore are reg-name chars", `GET / HTTP/1.1\r\nHost: 0.0.0.0=5000\r\n\r\n`, accepts({ authority: "0.0.0.0=5000" })],
    ["pct-encoded reg-name", `GET / HTTP/1.1\r\nHost: ex%41mple_a.com\r\n\r\n`, accepts({ authority: "ex%41mple_a.com" })],
    ["trimmed like any value", `GET / HTTP/1.1\r\nHost: \texample.com \r\n\r\n`, accepts({ authority: "example.com" })],
    ["the name is case-insensitive", `GET / HTTP/1.1\r\nhOsT: example.com\r\n\r\n`, accepts({ authority: "example.com" })],
    ["no Host on HTTP/1.1", `GET / HTTP/1.1\r\nX: y\r\n\r\n`, rejects(400)],
    // RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid and MUST be rejected; an empty
    // Host is only for target URIs without an authority (§7.2), which tray never serves.
    ["an empty Host on HTTP/1.1", `GET / HTTP/1.1\r\nHost:\r\n\r\n`, rejects(400)],
    ["a Host of only whitespace", `GET / HTTP/1.1\r\nHost:  \t \r\n\r\n`, rejects(400)],
    ["two Host fields", `GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n`, rejects(400)],
    ["two identical Host fields", `GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\n\r\n`, rejects(400)],
    ["two Host fields on HTTP/1.0", `GET / HTTP/1.0\r\nHost: a.example\r\nHost: b.example\r\n\r\n`, rejects(400)],
    ["a space inside", `GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n`, rejects(400)],
    ["a path", `GET / HTTP/1.1\r\nHost: example.com/evil\r\n\r\n`, rejects(400)],
    ["userinfo", `GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n`, rejects(400)],
    ["a letter in the port", `GET / HTTP/1.1\r\nHost: example.com:80a\r\n\r\n`, rejects(400)],
    ["two ports", `GET / HTTP/1.1\r\nHost: example.com:80:80\r\n\r\n`, rejects(400)],
    // Issue 12 defect 2: request.url is a WHATWG URL, so an authority it cannot carry is a 400 here
    // (authority.ts), never a new Request() that throws in the Worker.
    ["the highest port", `GET / HTTP/1.1\r\nHost: a:65535\r\n\r\n`, accepts({ authority: "a:65535" })],
    ["a port above 65535", `GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n`, rejects(400)],
    ["a port of 65536", `GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n`, rejects(400)],
    ["an IPv6 literal with two '::'", `GET / HTTP/1.1\r\nHost: [4712::abcd::]\r\n\r\n`, rejects(400)],
    ["an IPv6 literal with too many groups", `GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n`, rejects(400)],
    ["IPvFuture (RFC 3986 §3.2.2; no URL parser takes it)", `GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n`, rejects(400)],
    ["an IPv4 address out of range", `GET / HTTP/1.1\r\nHost: 1.2.3.256\r\n\r\n`, rejects(400)],
    ["a name whose last label is a number (WHATWG reads it as IPv4)", `GET / HTTP/1.1\r\nHost: a.1\r\n\r\n`, rejects(400)],
    // RFC 3986 §7.4: these are reg-names (DNS names) in RFC 3986, but the URL parser reads them as
    // 127.0.0.1 or 1.0.0.127, so the app would see a host the client never named.
    ["a dotted-decimal IPv4 address", `GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n`, accepts({ authority: "127.0.0.1:8080" })],
    ["an IPv4 address as one octal number", `GET / HTTP/1.1\r\nHost: 017700000001\r\n\r\n`, rejects(400)],
    ["an IPv4 address as one decimal number", `GET / HTTP/1.1\r\nHost: 2130706433\r\n\r\n`, rejects(400)],
    ["an IPv4 address in hex, short form", `GET / HTTP/1.1\r\nHost: 0x7f.1\r\n\r\n`, rejects(400)],
    ["a hex last label", `GET / HTTP/1.1\r\nHost: 1.0x7f\r\n\r\n`, rejects(400)],
    ["an IPv4 address with a leading zero", `GET / HTTP/1.1\r\nHost: 127.01.0.1\r\n\r\n`, rejects(400)],
    ["an IPv4 address with a trailing dot", `GET / HTTP/1.1\r\nHost: 127.0.0.1.\r\n\r\n`, rejects(400)],
    ["an IPv4 address pct-encoded", `GET / HTTP/1.1\r\nHost: %3127.0.0.1\r\n\r\n`, rejects(400)],
    ["a name whose last label starts with a digit is still a name", `GET / HTTP/1.1\r\nHost: a.1b\r\n\r\n`, accepts({ authority: "a.1b" })],
    ["a bad punycode label", `GET / HTTP/1.1\r\nHost: xn--a\r\n\r\n`, rejects(400)],
    ["a pct-encoded NUL", `GET / HTTP/1.1\r\nHost: a%00b\r\n\r\n`, rejects(400)],
    ["a port alone", `GET / HTTP/1.1\r\nHost: :80\r\n\r\n`, rejects(400)],
    ["an unclosed IPv6 literal", `GET / HTTP/1.1\r\nHost: [::1\r\n\r\n`, rejects(400)],
    ["obs-text", `GET / HTTP/1.1\r\nHost: ex\xe4mple.com\r\n\r\n`, rejects(400)],
    ["a list of two hosts", `GET / HTTP/1.1\r\nHost: a.example, b.example\r\n\r\n`, rejects(400)],
    ["an invalid Host on HTTP/1.0 is still invalid", `GET / HTTP/1.0\r\nHost: a b\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("Connection and persistence (RFC 9112 §9.3)", () => {
  const rows: Row[] = [
    ["HTTP/1.1 persists by default", `GET / HTTP/1.1\r\n${H}\r\n`, accepts({ keepAlive: true })],
    ["HTTP/1.1 close", `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, accepts({ keepAlive: false })],
    ["close is case-insensitive", `GET / HTTP/1.1\r\n${H}Connection: CLOSE\r\n\r\n`, accepts({ keepAlive: false })],
    ["close followed by HTAB", `GET / HTTP/1.1\r\n${H}Connection: close\t\r\n\r\n`, accepts({ keepAlive: false })],
    ["close among other options", `GET / HTTP/1.1\r\n${H}Connection: upgrade, close, keep-alive\r\n\r\n`, accepts({ keepAlive: false })],
    ["close in a second Connection field", `GET / HTTP/1.1\r\n${H}Connection: te\r\nConnection: close\r\n\r\n`, accepts({ keepAlive: false })],
    ["'closed' is not 'close'", `GET / HTTP/1.1\r\n${H}Connection: closed\r\n\r\n`, accepts({ keepAlive: true })],
    ["HTTP/1.0 closes by default", `GET / HTTP/1.0\r\n\r\n`, accepts({ keepAlive: false })],
    ["HTTP/1.0 keep-alive", `GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`, accepts({ keepAlive: true })],
    ["HTTP/1.0 Keep-Alive, any case", `GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n`, accepts({ keepAlive: true })],
    ["HTTP/1.0 keep-alive and close: close wins", `GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n`, accepts({ keepAlive: false })],
  ];
  registerRows(rows);
});

describe("Expect (RFC 9110 §10.1.1)", () => {
  const rows: Row[] = [
    ["100-continue on HTTP/1.1", `POST / HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\n`, waits({ expectContinue: true, contentLength: 2 })],
    ["100-continue is case-insensitive", `POST / HTTP/1.1\r\n${H}Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nok`, accepts({ expectContinue: true }, "ok")],
    ["no Expect", `POST / HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nok`, accepts({ expectContinue: false }, "ok")],
    ["ignored on HTTP/1.0 (§10.1.1: a 1.0 client cannot read a 100)", `POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok`, accepts({ expectContinue: false }, "ok")],
  ];
  registerRows(rows);
});

describe("an error is reported when the bytes show it, not when the head ends", () => {
  // None of these heads is finished, and none can become valid: a server that waits for the end
  // of the head holds the connection open on a request it already knows is broken.
  const rows: Row[] = [
    ["a bare CR inside the request line, head unfinished", `GET / HTTP/1.1\rLine: 1\r\n`, rejects(400)],
    ["a bad method in a finished request line", `G@T / HTTP/1.1\r\n`, rejects(400)],
    ["HTTP/2.0 in a finished request line", `GET / HTTP/2.0\r\n`, rejects(505)],
    ["a bare CR inside a finished field line", `GET / HTTP/1.1\r\n${H}X: a\rb\r\n`, rejects(400)],
    ["a bare CR then a byte that is not LF", `GET / HTTP/1.1\r\n${H}\rZGET /evil`, rejects(400)],
    ["whitespace before the first field line", `GET / HTTP/1.1\r\n Host: foo`, rejects(400)],
    ["a finished obs-fold line", `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n`, rejects(400)],
    ["a second, different Content-Length", `PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n`, rejects(400)],
    ["a Content-Length too large to serve", `PUT / HTTP/1.1\r\nContent-Length: 1000000000000000000000\r\n`, rejects(413)],
    ["a field name that is not a token", `GET / HTTP/1.1\r\nFo@: v\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("the authority rule's memo (a keep-alive connection repeats its Host)", () => {
  test("verdicts stay right across the memo's bound, for accepted and refused names alike", async () => {
    const { AUTHORITY_CACHE_MAX, parseAuthority } = await import("../../src/http/authority.ts");
    for (let i = 0; i < AUTHORITY_CACHE_MAX * 2 + 7; i++) expect(parseAuthority(`h${i}.example:${i % 65536}`)).not.toBeNull();
    for (const bad of ["a:99999", "[4712::abcd::]", "0x7f.1", ""]) {
      expect(parseAuthority(bad)).toBeNull();
      expect(parseAuthority(bad)).toBeNull(); // the memo's answer, too
    }
    expect(parseAuthority("example.com:8080")).toBe("example.com:8080" as never);
  });
});
