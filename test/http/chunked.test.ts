// The chunked transfer coding (RFC 9112 §7.1): chunk-size 1*HEXDIG (bounded), chunk extensions by
// their grammar (§7.1.1, bounded), chunk data followed by exactly CRLF, the last chunk, and the
// trailer section (§7.1.2) parsed with the field rules and kept apart from the header fields.
import { describe } from "bun:test";
import { accepts, registerRows, rejects, waits } from "./table.ts";
import type { Row } from "./table.ts";

const TE = "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n";
const HEAD = { chunked: true, contentLength: null, headers: ["Host", "example.com", "Transfer-Encoding", "chunked"] };

describe("chunk-size (RFC 9112 §7.1: 1*HEXDIG)", () => {
  const rows: Row[] = [
    ["one chunk", `${TE}5\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["lower-case hex", `${TE}a\r\n0123456789\r\n0\r\n\r\n`, accepts(HEAD, "0123456789")],
    ["upper-case hex", `${TE}A\r\n0123456789\r\n0\r\n\r\n`, accepts(HEAD, "0123456789")],
    ["several chunks are one body", `${TE}5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n`, accepts(HEAD, "hello world")],
    ["leading zeros and a zero-padded last chunk", `${TE}0005\r\nhello\r\n000\r\n\r\n`, accepts(HEAD, "hello")],
    ["sixteen hex digits are allowed", `${TE}0000000000000005\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["more than sixteen hex digits", `${TE}00000000000000005\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["chunk data is bytes: CRLF, NUL and a fake last chunk inside", `${TE}7\r\n0\r\n\r\n\x00\xff\r\n0\r\n\r\n`, accepts(HEAD, "0\r\n\r\n\x00\xff")],
    ["no body at all, only the last chunk", `${TE}0\r\n\r\n`, accepts(HEAD, "")],
    ["an empty size line", `${TE}\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["not hex", `${TE}g\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a 0x prefix", `${TE}0x5\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a sign", `${TE}+5\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["negative", `${TE}-1\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["SP before the size", `${TE} 5\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["SP after the size with no extension", `${TE}a \r\n0123456789\r\n0\r\n\r\n`, rejects(400)],
    ["a word after the size with no semicolon", `${TE}2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n`, rejects(400)],
    ["bare LF after the size", `${TE}5\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["bare CR after the size", `${TE}5\r\rhello\r\n0\r\n\r\n`, rejects(400)],
    ["CR CR LF after the size", `${TE}5\r\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["SP then bare LF after the size", `${TE}3 \n  \r\nfoo\r\n\r\n`, rejects(400)],
    ["a missing last chunk (an empty line where a size belongs)", `${TE}3\r\nfoo\r\n\r\n`, rejects(400)],
    ["a size line cut short waits", `${TE}5`, waits(HEAD)],
    ["data cut short waits", `${TE}5\r\nhel`, waits(HEAD)],
    ["a last chunk without the final CRLF waits", `${TE}5\r\nhello\r\n0\r\n`, waits(HEAD)],
  ];
  registerRows(rows);
});

describe("chunk data must be followed by exactly CRLF (RFC 9112 §7.1)", () => {
  const rows: Row[] = [
    ["data longer than its size", `${TE}5\r\nhelloX\r\n0\r\n\r\n`, rejects(400)],
    ["data followed by the next size", `${TE}5\r\nhello0\r\n\r\n`, rejects(400)],
    ["data followed by a bare LF", `${TE}5\r\nhello\n0\r\n\r\n`, rejects(400)],
    ["data followed by a bare CR", `${TE}5\r\nhello\r0\r\n\r\n`, rejects(400)],
    ["data followed by LF CR", `${TE}5\r\nhello\n\r0\r\n\r\n`, rejects(400)],
    ["data followed by SP CRLF", `${TE}5\r\nhello \r\n0\r\n\r\n`, rejects(400)],
    ["a smuggled request after short data", `${TE}5\r\nABCDE0\r\n\r\nGET /evil HTTP/1.1\r\nHost: a\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("chunk extensions (RFC 9112 §7.1.1: *( BWS ; BWS name [ BWS = BWS ( token / quoted-string ) ] ))", () => {
  const rows: Row[] = [
    ["a name", `${TE}5;foo\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["a name and a token value", `${TE}5;foo=bar\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["several", `${TE}5;ilovew3;somuchlove=aretheseparametersfor;another=withvalue\r\nhello\r\n6;blahblah;blah\r\n world\r\n0\r\n\r\n`, accepts(HEAD, "hello world")],
    ["BWS around ; and =", `${TE}5 ; foo = bar\t;\tbaz\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["a quoted-string value", `${TE}5;foo="b a r"\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["quoted-pairs, and ; inside quotes", `${TE}5;ilovew3="I \\"love\\"; \\\\extensions\\\\";blah;foo=bar\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["obs-text inside quotes", `${TE}5;foo="caf\xe9"\r\nhello\r\n0\r\n\r\n`, accepts(HEAD, "hello")],
    ["an extension on the last chunk", `${TE}5\r\nhello\r\n0;last=yes\r\n\r\n`, accepts(HEAD, "hello")],
    ["a semicolon and no name", `${TE}2;\r\naa\r\n0\r\n\r\n`, rejects(400)],
    ["no name before =", `${TE}5;=bar\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["= and no value", `${TE}5;foo=\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a space inside the name", `${TE}5;fo o\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a space inside a token value", `${TE}5;foo=b ar\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["'@' in a token value", `${TE}5;foo=b@r\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["an unterminated quoted-string", `${TE}5;ilovew3="abc";somuchlove="def; ghi\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a CTL in a token value", `${TE}5;foo=b\x01r\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a CTL in a quoted-string", `${TE}5;foo="b\x01r"\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["NUL in an extension", `${TE}5;foo\x00\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["bare CR in an extension", `${TE}5\r\r;ABCD\r\n34\r\nE\r\n0\r\n\r\n`, rejects(400)],
    ["bare LF in an extension", `${TE}5;a\nb\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["something after a quoted-string", `${TE}5;foo="bar"x\r\nhello\r\n0\r\n\r\n`, rejects(400)],
    ["a chunk-size line longer than 4 KiB", `${TE}5;a=${"b".repeat(5000)}\r\nhello\r\n0\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("the trailer section (RFC 9112 §7.1.2: field lines, never merged into the header section)", () => {
  const rows: Row[] = [
    ["one trailer field", `${TE}5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n`, accepts(HEAD, "hello", ["X-Checksum", "abc"])],
    [
      "trailers keep case, order and repeats, values trimmed",
      `${TE}5\r\nhello\r\n6\r\n world\r\n0\r\nVary: *\r\nContent-Type:  text/plain \r\nvary: x\r\n\r\n`,
      accepts(HEAD, "hello world", ["Vary", "*", "Content-Type", "text/plain", "vary", "x"]),
    ],
    ["obs-text in a trailer value", `${TE}0\r\nX: \xe9\xff\r\n\r\n`, accepts(HEAD, "", ["X", "\xe9\xff"])],
    ["a trailer section cut short waits", `${TE}0\r\nX: a\r\n`, waits(HEAD)],
    ["whitespace before the colon", `${TE}0\r\nX : a\r\n\r\n`, rejects(400)],
    ["a name that is not a token", `${TE}0\r\nX@: a\r\n\r\n`, rejects(400)],
    ["no colon", `${TE}0\r\nX-Checksum\r\n\r\n`, rejects(400)],
    ["obs-fold", `${TE}0\r\nX: a\r\n b\r\n\r\n`, rejects(400)],
    ["NUL in a value", `${TE}0\r\nX: a\x00b\r\n\r\n`, rejects(400)],
    ["a CTL in a value", `${TE}0\r\nX: a\x01b\r\n\r\n`, rejects(400)],
    ["bare LF ends a trailer line", `${TE}0\r\nX: a\n\r\n`, rejects(400)],
    ["bare LF ends the trailer section", `${TE}0\r\nX: a\r\n\n`, rejects(400)],
    ["bare CR inside a trailer", `${TE}0\r\nX: a\rY: b\r\n\r\n`, rejects(400)],
    ["bare LF after the last chunk", `${TE}0\r\n\n`, rejects(400)],
  ];
  registerRows(rows);
});
