// Every op of the main thread <-> Worker protocol, encoded into an Outbox and decoded back from
// the message take() makes, with no Worker: each layout is written and read in one file
// (src/pool/protocol.ts), and these tests hold the two ends to each other.
import { describe, expect, test } from "bun:test";
import {
  OP_ACK,
  OP_ABORT,
  OP_CANCEL,
  OP_DATA,
  OP_END,
  OP_ERROR,
  OP_FATAL,
  OP_HEAD,
  OP_LOAD_FAILED,
  OP_LOG,
  OP_READY,
  OP_REQUEST,
  OP_RESPONSE,
  OP_WS_ACK,
  OP_WS_CLOSE,
  OP_WS_CLOSED,
  OP_WS_MESSAGE,
  OP_WS_OPEN,
  OP_WS_PING,
  OP_WS_PONG,
  OP_WS_PUBLISH,
  OP_WS_RECEIVED,
  OP_WS_SEND,
  OP_WS_SUBSCRIBE,
  OP_WS_TERMINATE,
  OP_WS_TOPIC_COUNT,
  OP_WS_UNSUBSCRIBE,
  OP_WS_UPGRADE,
  decodeFromWorker,
  decodeInit,
  decodeToWorker,
  encodeAck,
  encodeAbort,
  encodeCancel,
  encodeData,
  encodeEnd,
  encodeError,
  encodeHead,
  encodeInit,
  encodeLog,
  encodeRequest,
  encodeResponse,
  encodeWsAck,
  encodeWsClose,
  encodeWsClosed,
  encodeWsMessage,
  encodeWsOpen,
  encodeWsPing,
  encodeWsPong,
  encodeWsPublish,
  encodeWsReceived,
  encodeWsSend,
  encodeWsSubscribe,
  encodeWsTerminate,
  encodeWsTopicCount,
  encodeWsUnsubscribe,
  encodeWsUpgrade,
  fatalMessage,
  loadFailedMessage,
  readyMessage,
  type FromWorker,
  type ToWorker,
} from "../../src/pool/protocol.ts";
import { Outbox, messageFields, type Message } from "../../src/pool/outbox.ts";
import type { PoolRequest, WebSocketOptions } from "../../src/pool/types.ts";
import { poolRequest, roundTrip } from "./helpers.ts";


const toWorker = (out: Outbox) => roundTrip<ToWorker>(out, decodeToWorker);
const fromWorker = (out: Outbox) => roundTrip<FromWorker>(out, decodeFromWorker);
const bytes = (...values: number[]) => new Uint8Array(values);
const big = (n: number) => new Uint8Array(n).map((_, i) => i % 251);
const plain = (u: Uint8Array | null) => (u === null ? null : Array.from(u));

const OPTIONS: WebSocketOptions = {
  maxPayloadLength: 1234,
  idleTimeout: 7,
  backpressureLimit: 99,
  closeOnBackpressureLimit: true,
  perMessageDeflate: true,
  sendPings: false,
  publishToSelf: true,
};

describe("main thread -> Worker", () => {
  test("OP_INIT travels alone and decodes to its fields", () => {
    const init = { module: "app.ts", object: "api.v1", call: true, cwd: "/srv", exposeTracebacks: false, highWatermark: 42, appInterface: "node" as const };
    expect(decodeInit(messageFields(encodeInit(init)))).toEqual(init);
    expect(decodeInit([OP_REQUEST])).toBeNull();
  });

  test("OP_REQUEST: every field, the body bytes and the upgrade flag", () => {
    const out = new Outbox();
    const request: PoolRequest = poolRequest("/x?y", {
      method: "POST",
      headers: ["Host", "a", "X-Two", "b"],
      body: bytes(1, 2, 3),
      bodyLength: 3,
      scriptName: "/p",
      versionMinor: 0,
      remote: { hostname: "::1", port: 9, transport: "tcp" },
      family: "IPv6",
      upgrade: true,
    });
    encodeRequest(out, 7, request);
    encodeRequest(out, 8, poolRequest("/file", { bodyFd: 42, bodyLength: 10, upgrade: false }));
    const [a, b] = toWorker(out);
    expect(a.op).toBe(OP_REQUEST);
    if (a.op !== OP_REQUEST || b.op !== OP_REQUEST) throw new Error("not requests");
    expect(a.id).toBe(7);
    expect({ ...a.request, body: plain(a.request.body) }).toEqual({
      method: "POST",
      url: "http://example.test/x?y",
      rawHeaders: ["Host", "a", "X-Two", "b"],
      body: [1, 2, 3],
      bodyFd: null,
      bodyLength: 3,
      remoteHostname: "::1",
      remotePort: 9,
      transport: "tcp",
      family: "IPv6",
      scriptName: "/p",
      versionMinor: 0,
      upgrade: true,
    });
    expect(b.id).toBe(8);
    expect(b.request.body).toBeNull();
    expect(b.request.bodyFd).toBe(42);
    expect(b.request.upgrade).toBe(false);
  });

  test("OP_ABORT: the client's FIN, for one request", () => {
    const out = new Outbox();
    encodeAbort(out, 6);
    expect(toWorker(out)).toEqual([{ op: OP_ABORT, id: 6, next: 2 }]);
  });

  test("OP_ACK, OP_CANCEL and every WebSocket op, in order, in one batch", () => {
    const out = new Outbox();
    encodeAck(out, 1, 500);
    encodeCancel(out, 2);
    encodeWsOpen(out, 3);
    encodeWsMessage(out, 3, false, new TextEncoder().encode("héllo"));
    encodeWsMessage(out, 3, true, big(17_000));
    encodeWsMessage(out, 3, true, new Uint8Array(0));
    encodeWsPing(out, 3, bytes(9));
    encodeWsPong(out, 3, bytes());
    encodeWsAck(out, 3, 77);
    encodeWsClosed(out, 3, 1001, "bye");
    encodeWsTopicCount(out, "room", 4);
    const ops = toWorker(out).map((op) => ("payload" in op ? { ...op, payload: plain(op.payload) } : op));
    const { next: _n, ...first } = ops[0];
    expect(first).toEqual({ op: OP_ACK, id: 1, bytes: 500 });
    expect(ops.map((op) => op.op)).toEqual([OP_ACK, OP_CANCEL, OP_WS_OPEN, OP_WS_MESSAGE, OP_WS_MESSAGE, OP_WS_MESSAGE, OP_WS_PING, OP_WS_PONG, OP_WS_ACK, OP_WS_CLOSED, OP_WS_TOPIC_COUNT]);
    expect(ops[1]).toMatchObject({ id: 2 });
    expect(ops[2]).toMatchObject({ id: 3 });
    expect(ops[3]).toMatchObject({ id: 3, binary: false, payload: Array.from(new TextEncoder().encode("héllo")) });
    expect(ops[4]).toMatchObject({ id: 3, binary: true, payload: Array.from(big(17_000)) });
    expect(ops[5]).toMatchObject({ binary: true, payload: [] });
    expect(ops[6]).toMatchObject({ op: OP_WS_PING, id: 3, payload: [9] });
    expect(ops[7]).toMatchObject({ op: OP_WS_PONG, id: 3, payload: [] });
    expect(ops[8]).toMatchObject({ id: 3, bytes: 77 });
    expect(ops[9]).toMatchObject({ id: 3, code: 1001, reason: "bye" });
    expect(ops[10]).toMatchObject({ topic: "room", count: 4 });
  });
});

describe("Worker -> main thread", () => {
  test("OP_READY, OP_LOAD_FAILED and OP_FATAL travel alone", () => {
    const decode1 = (m: Message) => decodeFromWorker(messageFields(m), 0, m);
    expect(decode1(readyMessage("note"))).toMatchObject({ op: OP_READY, note: "note" });
    expect(decode1(loadFailedMessage("no such file"))).toMatchObject({ op: OP_LOAD_FAILED, reason: "no such file" });
    expect(decode1(fatalMessage("uncaught"))).toMatchObject({ op: OP_FATAL, reason: "uncaught" });
  });

  test("response ops: head (known and unknown length), data, end, response (with and without a body), error, log", () => {
    const out = new Outbox();
    encodeHead(out, 1, 200, "OK", ["a", "b", "set-cookie", "x=1"], 10);
    encodeHead(out, 2, 204, "", [], -1);
    encodeData(out, 1, bytes(5, 6), false);
    encodeEnd(out, 1);
    encodeResponse(out, 3, 404, "Not Found", ["c", "d"], bytes(7), false);
    encodeResponse(out, 4, 304, "", [], null, false);
    encodeError(out, 5, 500, "Internal Server Error", "TypeError: x");
    encodeLog(out, "a line", "warning");
    const ops = fromWorker(out);
    expect(ops.map((op) => op.op)).toEqual([OP_HEAD, OP_HEAD, OP_DATA, OP_END, OP_RESPONSE, OP_RESPONSE, OP_ERROR, OP_LOG]);
    expect(ops[0]).toMatchObject({ id: 1, status: 200, statusText: "OK", headers: ["a", "b", "set-cookie", "x=1"], bodyLength: 10 });
    expect(ops[1]).toMatchObject({ id: 2, status: 204, headers: [], bodyLength: null });
    expect(ops[2].op === OP_DATA && plain(ops[2].chunk)).toEqual([5, 6]);
    expect(ops[3]).toMatchObject({ id: 1 });
    expect(ops[4].op === OP_RESPONSE && { ...ops[4], body: plain(ops[4].body) }).toMatchObject({ id: 3, status: 404, statusText: "Not Found", headers: ["c", "d"], body: [7] });
    expect(ops[5]).toMatchObject({ id: 4, status: 304, body: null });
    expect(ops[6]).toMatchObject({ id: 5, status: 500, body: "Internal Server Error", logText: "TypeError: x" });
    expect(ops[7]).toMatchObject({ line: "a line" });
  });

  test("WebSocket ops: upgrade with headers and options, send, close, terminate, subscribe, unsubscribe, publish, received", () => {
    const out = new Outbox();
    encodeWsUpgrade(out, 9, ["Sec-WebSocket-Protocol", "chat"], OPTIONS);
    encodeWsUpgrade(out, 10, [], { ...OPTIONS, closeOnBackpressureLimit: false, perMessageDeflate: false, sendPings: true, publishToSelf: false });
    encodeWsSend(out, 9, 1, true, new TextEncoder().encode("hi"), true);
    encodeWsSend(out, 9, 2, false, big(17_000), false);
    encodeWsClose(out, 9, 4000, "done");
    encodeWsTerminate(out, 10);
    encodeWsSubscribe(out, 9, "room");
    encodeWsUnsubscribe(out, 9, "room");
    encodeWsPublish(out, "room", 2, false, 9, bytes(1, 2), false);
    encodeWsPublish(out, "all", 1, true, 0, bytes(), false);
    encodeWsReceived(out, 9, 321);
    const ops = fromWorker(out).map((op) => ("payload" in op ? { ...op, payload: plain(op.payload) } : op));
    expect(ops.map((op) => op.op)).toEqual([
      OP_WS_UPGRADE, OP_WS_UPGRADE, OP_WS_SEND, OP_WS_SEND, OP_WS_CLOSE, OP_WS_TERMINATE, OP_WS_SUBSCRIBE, OP_WS_UNSUBSCRIBE, OP_WS_PUBLISH, OP_WS_PUBLISH, OP_WS_RECEIVED,
    ]);
    expect(ops[0]).toMatchObject({ id: 9, headers: ["Sec-WebSocket-Protocol", "chat"], options: OPTIONS });
    expect(ops[1]).toMatchObject({ id: 10, headers: [], options: { closeOnBackpressureLimit: false, perMessageDeflate: false, sendPings: true, publishToSelf: false } });
    expect(ops[2]).toMatchObject({ id: 9, opcode: 1, compress: true, payload: [104, 105] });
    expect(ops[3]).toMatchObject({ id: 9, opcode: 2, compress: false, payload: Array.from(big(17_000)) });
    expect(ops[4]).toMatchObject({ id: 9, code: 4000, reason: "done" });
    expect(ops[5]).toMatchObject({ id: 10 });
    expect(ops[6]).toMatchObject({ id: 9, topic: "room" });
    expect(ops[7]).toMatchObject({ id: 9, topic: "room" });
    expect(ops[8]).toMatchObject({ topic: "room", opcode: 2, compress: false, excludeId: 9, payload: [1, 2] });
    expect(ops[9]).toMatchObject({ topic: "all", opcode: 1, compress: true, excludeId: 0, payload: [] });
    expect(ops[10]).toMatchObject({ id: 9, bytes: 321 });
  });

  test("a batch with no bytes is one JSON string; with bytes, small ones share one buffer", () => {
    const out = new Outbox();
    encodeEnd(out, 1);
    expect(typeof out.take().message).toBe("string");
    encodeData(out, 1, bytes(1), false);
    encodeWsSend(out, 2, 2, false, bytes(2), false);
    const { message, transfer } = out.take();
    expect(Array.isArray(message)).toBe(true);
    expect(transfer.length).toBe(1);
  });

  test("an unknown op is a bug, said so", () => {
    expect(() => decodeFromWorker([999], 0, "[999]")).toThrow("bug: unknown op 999");
    expect(() => decodeToWorker([999], 0, "[999]")).toThrow("bug: unknown op 999");
  });
});
