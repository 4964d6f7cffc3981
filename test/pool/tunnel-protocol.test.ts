// The tunnel ops of the main thread <-> Worker protocol (Node-style 'upgrade' listeners; the
// block at the end of src/pool/protocol.ts), encoded into an Outbox and decoded back, without a
// Worker, batched between other ops so each layout's length is checked too.
import { describe, expect, test } from "bun:test";
import {
  decodeFromWorker,
  decodeToWorker,
  encodeCancel,
  encodeEnd,
  type FromWorker,
  type ToWorker,
} from "../../src/pool/protocol.ts";
import {
  OP_TUNNEL_ACK,
  OP_TUNNEL_CLOSED,
  OP_TUNNEL_DATA,
  OP_TUNNEL_DESTROY,
  OP_TUNNEL_END,
  OP_TUNNEL_FINISH,
  OP_TUNNEL_OPEN,
  OP_TUNNEL_RECEIVED,
  OP_TUNNEL_WRITE,
  encodeTunnelAck,
  encodeTunnelClosed,
  encodeTunnelData,
  encodeTunnelDestroy,
  encodeTunnelEnd,
  encodeTunnelFinish,
  encodeTunnelOpen,
  encodeTunnelReceived,
  encodeTunnelWrite,
} from "../../src/pool/protocol-tunnel.ts";
import { Outbox } from "../../src/pool/outbox.ts";
import { roundTrip } from "./helpers.ts";

const decodeAll = roundTrip;

const small = new Uint8Array([1, 2, 3]);
const large = new Uint8Array(100_000).fill(7);

describe("tunnel ops, main thread -> Worker", () => {
  test("data (small and large), end, closed and ack round-trip, between other ops", () => {
    const out = new Outbox();
    encodeTunnelData(out, 5, small);
    encodeCancel(out, 9);
    encodeTunnelData(out, 5, large);
    encodeTunnelEnd(out, 5);
    encodeTunnelAck(out, 5, 65536);
    encodeTunnelClosed(out, 5);
    const ops = decodeAll<ToWorker>(out, decodeToWorker);
    expect(ops.map((o) => o.op)).toEqual([OP_TUNNEL_DATA, 4, OP_TUNNEL_DATA, OP_TUNNEL_END, OP_TUNNEL_ACK, OP_TUNNEL_CLOSED]);
    const [first, , second, end, ack] = ops;
    expect(first.op === OP_TUNNEL_DATA && [first.id, [...first.chunk]]).toEqual([5, [1, 2, 3]]);
    expect(second.op === OP_TUNNEL_DATA && second.chunk.byteLength === large.byteLength && second.chunk.every((b) => b === 7)).toBe(true);
    expect(end.op === OP_TUNNEL_END && end.id).toBe(5);
    expect(ack.op === OP_TUNNEL_ACK && [ack.id, ack.bytes]).toEqual([5, 65536]);
  });
});

describe("tunnel ops, Worker -> main thread", () => {
  test("open, write, finish, destroy and received round-trip, between other ops", () => {
    const out = new Outbox();
    encodeTunnelOpen(out, 6);
    encodeTunnelWrite(out, 6, small, false);
    encodeEnd(out, 10);
    encodeTunnelWrite(out, 6, large, false);
    encodeTunnelReceived(out, 6, 1234);
    encodeTunnelFinish(out, 6);
    encodeTunnelDestroy(out, 6);
    const ops = decodeAll<FromWorker>(out, decodeFromWorker);
    expect(ops.map((o) => o.op)).toEqual([OP_TUNNEL_OPEN, OP_TUNNEL_WRITE, 14, OP_TUNNEL_WRITE, OP_TUNNEL_RECEIVED, OP_TUNNEL_FINISH, OP_TUNNEL_DESTROY]);
    const [open, write, , big, received] = ops;
    expect(open.op === OP_TUNNEL_OPEN && open.id).toBe(6);
    expect(write.op === OP_TUNNEL_WRITE && [write.id, [...write.chunk]]).toEqual([6, [1, 2, 3]]);
    expect(big.op === OP_TUNNEL_WRITE && big.chunk.byteLength).toBe(large.byteLength);
    expect(received.op === OP_TUNNEL_RECEIVED && [received.id, received.bytes]).toEqual([6, 1234]);
  });

  test("an unknown op is still a bug, named", () => {
    expect(() => decodeFromWorker([99], 0, "[99]")).toThrow("bug: unknown op 99 from a Worker");
    expect(() => decodeToWorker([99], 0, "[99]")).toThrow("bug: unknown op 99 from the main thread");
  });
});
