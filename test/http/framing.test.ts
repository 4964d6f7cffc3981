// Message body framing (RFC 9112 §6): Content-Length (§6.2, RFC 9110 §8.6), Transfer-Encoding
// (§6.1), their combination (§6.3), and the request that has neither (§6.3 item 7: no body).
import { describe } from "bun:test";
import { accepts, registerRows, rejects, waits } from "./table.ts";
import type { Row } from "./table.ts";

const H = "Host: example.com\r\n";
const POST = `POST / HTTP/1.1\r\n${H}`;

describe("no Content-Length and no Transfer-Encoding: no body (RFC 9112 §6.3 item 7)", () => {
  const rows: Row[] = [
    ["a GET ends at its head", `GET / HTTP/1.1\r\n${H}\r\n`, accepts({ contentLength: null, chunked: false }, "")],
    ["a POST with neither ends at its head too", `${POST}\r\n`, accepts({ contentLength: null, chunked: false }, "")],
  ];
  registerRows(rows);
});

describe("Content-Length (RFC 9112 §6.2: 1*DIGIT)", () => {
  const rows: Row[] = [
    ["a body of that many bytes", `${POST}Content-Length: 5\r\n\r\nhello`, accepts({ contentLength: 5 }, "hello")],
    ["zero: the message ends at its head", `${POST}Content-Length: 0\r\n\r\n`, accepts({ contentLength: 0 }, "")],
    ["leading zeros", `${POST}Content-Length: 003\r\n\r\nabc`, accepts({ contentLength: 3 }, "abc")],
    ["many leading zeros are still 1*DIGIT", `${POST}Content-Length: 00000000000000000000003\r\n\r\nabc`, accepts({ contentLength: 3 }, "abc")],
    ["surrounding OWS is trimmed", `${POST}Content-Length: \t 3 \t\r\n\r\nabc`, accepts({ contentLength: 3 }, "abc")],
    ["the name is case-insensitive", `GET / HTTP/1.0\r\nconTENT-Length: 5\r\n\r\nHELLO`, accepts({ contentLength: 5, versionMinor: 0 }, "HELLO")],
    ["the body is bytes, CRLF and NUL included", `${POST}Content-Length: 6\r\n\r\n\r\n\x00\xff\r\n`, accepts({}, "\r\n\x00\xff\r\n")],
    ["an incomplete body waits", `${POST}Content-Length: 42\r\n\r\nabc`, waits({ contentLength: 42 })],
    ["identical repeated fields collapse (RFC 9110 §8.6)", `${POST}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`, accepts({ contentLength: 3 }, "abc")],
    ["an identical list collapses (RFC 9110 §8.6)", `${POST}Content-Length: 3, 3\r\n\r\nabc`, accepts({ contentLength: 3 }, "abc")],
    ["differing repeated fields", `${POST}Content-Length: 1000\r\nContent-Length: 100\r\n\r\n`, rejects(400)],
    ["differing list", `${POST}Content-Length: 3, 4\r\n\r\nabc`, rejects(400)],
    ["empty", `${POST}Content-Length:\r\n\r\n`, rejects(400)],
    ["empty and a number", `${POST}Content-Length:\r\nContent-Length: 3\r\n\r\nabc`, rejects(400)],
    ["plus sign", `${POST}Content-Length: +3\r\n\r\nabc`, rejects(400)],
    ["minus sign", `${POST}Content-Length: -3\r\n\r\n`, rejects(400)],
    ["hex", `${POST}Content-Length: 0x3\r\n\r\nabc`, rejects(400)],
    ["a space between digits", `${POST}Content-Length: 1 3\r\n\r\nabc`, rejects(400)],
    ["a decimal point", `${POST}Content-Length: 1000.1000\r\n\r\n`, rejects(400)],
    ["an exponent", `${POST}Content-Length: 1e3\r\n\r\n`, rejects(400)],
    ["a trailing letter", `${POST}Content-Length: 3a\r\n\r\nabc`, rejects(400)],
    ["a CTL after the digits", `${POST}Content-Length: 1000\x11\r\n\r\n`, rejects(400)],
    ["a CTL before the digits", `${POST}Content-Length: \x011000\r\n\r\n`, rejects(400)],
    ["obs-text after the digits", `${POST}Content-Length: 1000\xa0\r\n\r\n`, rejects(400)],
    ["a non-ASCII digit", `${POST}Content-Length: \xd9\xa3\r\n\r\n`, rejects(400)],
    ["a quoted number", `${POST}Content-Length: "3"\r\n\r\nabc`, rejects(400)],
  ];
  registerRows(rows);
});

describe("Content-Length past the body limit or 2^53 (RFC 9110 §15.5.14: 413, decided from the head)", () => {
  const rows: Row[] = [
    ["2^53 + 1 is too large, not rounded", `${POST}Content-Length: 9007199254740993\r\n\r\n`, rejects(413)],
    ["2^64 is too large, not wrapped", `${POST}Content-Length: 18446744073709551616\r\n\r\n`, rejects(413)],
    ["a hundred digits is too large", `${POST}Content-Length: ${"9".repeat(100)}\r\n\r\n`, rejects(413)],
    // Both values are past 2^53 and round to the same double: only exact comparison tells them apart.
    ["two values that differ only past 2^53", `${POST}Content-Length: 9007199254740993\r\nContent-Length: 9007199254740992\r\n\r\n`, rejects([400, 413])],
    ["a list that differs only past 2^53", `${POST}Content-Length: 9007199254740993, 9007199254740992\r\n\r\n`, rejects([400, 413])],
  ];
  registerRows(rows);
});

describe("Transfer-Encoding (RFC 9112 §6.1, §6.3)", () => {
  const rows: Row[] = [
    ["chunked", `${POST}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, accepts({ chunked: true, contentLength: null }, "")],
    ["Chunked, any case (a case-insensitive token)", `${POST}Transfer-Encoding: ChUnKeD\r\n\r\n0\r\n\r\n`, accepts({ chunked: true })],
    ["surrounding OWS is trimmed", `${POST}Transfer-Encoding: \tchunked \r\n\r\n0\r\n\r\n`, accepts({ chunked: true })],
    ["the head alone waits for the body", `${POST}Transfer-Encoding: chunked\r\n\r\n`, waits({ chunked: true })],
    ["chunked twice in one field", `${POST}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["chunked twice without a space", `${POST}Transfer-Encoding: chunked,chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["chunked in two fields", `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["chunked not last (§6.3 item 4: 400 for requests)", `${POST}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["chunked not last, across fields", `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: deflate\r\n\r\nWorld`, rejects(400)],
    ["a coding tray does not decode before chunked -> 501 (§6.1)", `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, rejects(501)],
    ["the same across fields -> 501", `${POST}Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, rejects(501)],
    ["an unknown coding alone", `${POST}Transfer-Encoding: pigeons\r\n\r\n`, rejects([400, 501])],
    ["identity (removed from the registry)", `${POST}Transfer-Encoding: identity\r\n\r\n`, rejects([400, 501])],
    ["xchunked is not chunked", `${POST}Transfer-Encoding: xchunked\r\n\r\n`, rejects([400, 501])],
    ["chunk is not chunked", `${POST}Transfer-Encoding: chunk\r\n\r\n`, rejects([400, 501])],
    ["chunkedchunked is not chunked", `${POST}Transfer-Encoding: chunkedchunked\r\n\r\n5\r\nWorld\r\n0\r\n\r\n`, rejects([400, 501])],
    ["a quoted chunked is not the token", `${POST}Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n`, rejects([400, 501])],
    ["empty", `${POST}Transfer-Encoding:\r\n\r\n`, rejects([400, 501])],
    ["a CTL after chunked", `${POST}Transfer-Encoding: chunked\x11\r\n\r\n`, rejects(400)],
    ["a CTL before chunked", `${POST}Transfer-Encoding: \x01chunked\r\n\r\n`, rejects(400)],
    ["obs-text before chunked", `${POST}Transfer-Encoding: \xa0chunked\r\n\r\n`, rejects([400, 501])],
    ["obs-text after chunked", `${POST}Transfer-Encoding: chunked\xa0\r\n\r\n`, rejects([400, 501])],
    ["NUL before chunked", `${POST}Transfer-Encoding: \x00chunked\r\n\r\n`, rejects(400)],
    ["on HTTP/1.0 (§6.1: faulty framing)", `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
  ];
  registerRows(rows);
});

describe("Transfer-Encoding with Content-Length (RFC 9112 §6.1, §6.3 item 3: 400 then close)", () => {
  const rows: Row[] = [
    ["TE then CL", `${POST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["CL then TE", `${POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["CL 0 and TE", `${POST}Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, rejects(400)],
    ["CL and TE identity", `${POST}Content-Length: 1\r\nTransfer-Encoding: identity\r\n\r\n`, rejects([400, 501])],
    ["CL and empty TE fields", `${POST}Content-Length: 10\r\nTransfer-Encoding:\r\nTransfer-Encoding:\r\n\r\n2\r\nAA\r\n0`, rejects([400, 501])],
    ["TE, a bad TE and CL", `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: cow\r\nContent-Length: 6\r\n\r\n`, rejects([400, 501])],
  ];
  registerRows(rows);
});
