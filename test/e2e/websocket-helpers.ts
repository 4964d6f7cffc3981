// Clients for the WebSocket e2e tests: Bun's built-in WebSocket (what browsers do) with its
// messages and close event collected, and a raw socket that performs the handshake by hand and
// sends masked frames byte by byte (RFC 6455 §5.2, §5.3), for the protocol errors no real client
// would send. Every wait is bounded.
import type { Socket } from "node:net";
import { rawConnect } from "./harness.ts";

export interface Client {
  ws: WebSocket;
  messages: (string | ArrayBuffer)[];
  closed: Promise<{ code: number; reason: string }>;
  /** Waits until `n` messages have arrived (bounded). */
  next(n?: number, timeoutMs?: number): Promise<(string | ArrayBuffer)[]>;
}

export function connect(url: string, protocols?: string[]): Promise<Client> {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  const messages: (string | ArrayBuffer)[] = [];
  let onClose: (v: { code: number; reason: string }) => void = () => {};
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClose = r));
  ws.onmessage = (e) => messages.push(e.data as string | ArrayBuffer);
  ws.onclose = (e) => onClose({ code: e.code, reason: e.reason });
  const client: Client = {
    ws,
    messages,
    closed,
    async next(n = 1, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} message(s); got ${JSON.stringify(messages)}`);
        await Bun.sleep(5);
      }
      return messages.slice(0, n);
    },
  };
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(client);
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
  });
}

export const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** RFC 6455 §1.3's example: the accept value for KEY. */
export const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

export function handshake(path = "/echo", extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** A masked client frame (§5.2): fin, opcode, payload; the mask key is fixed (any key is valid). */
export function clientFrame(opcode: number, payload: Uint8Array | string, fin = true, rsv = 0): Uint8Array {
  const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const mask = [0x37, 0xfa, 0x21, 0x3d];
  const n = data.length;
  const head = n < 126 ? [((fin ? 0x80 : 0) | rsv | opcode), 0x80 | n] : n < 65536 ? [((fin ? 0x80 : 0) | rsv | opcode), 0x80 | 126, n >> 8, n & 0xff] : [((fin ? 0x80 : 0) | rsv | opcode), 0x80 | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(head.length + 4 + n);
  out.set(head, 0);
  out.set(mask, head.length);
  for (let i = 0; i < n; i++) out[head.length + 4 + i] = data[i] ^ mask[i & 3];
  return out;
}

export interface ServerFrame {
  opcode: number;
  fin: boolean;
  payload: Uint8Array;
}

/** A raw connection after a handshake: the 101 head, then the server's frames as they come. */
export interface RawSocket {
  socket: Socket;
  head: string;
  frames(n: number, timeoutMs?: number): Promise<ServerFrame[]>;
  /** Resolves when the server closed the TCP connection. */
  ended: Promise<void>;
  send(bytes: Uint8Array | string): void;
}

export async function rawWebSocket(port: number, request: string | Uint8Array = handshake()): Promise<RawSocket> {
  const socket = await rawConnect(port);
  let buf = Buffer.alloc(0);
  let head: string | null = null;
  let onEnd: () => void = () => {};
  const ended = new Promise<void>((r) => (onEnd = r));
  socket.on("data", (d: Buffer) => (buf = Buffer.concat([buf, d])));
  socket.on("close", () => onEnd());
  socket.write(typeof request === "string" ? Buffer.from(request, "latin1") : request);
  const deadline = Date.now() + 5000;
  while (head === null) {
    const end = buf.indexOf("\r\n\r\n");
    if (end >= 0) {
      head = buf.subarray(0, end + 4).toString("latin1");
      buf = buf.subarray(end + 4);
      break;
    }
    if (Date.now() > deadline) throw new Error(`no response head; got ${JSON.stringify(buf.toString("latin1"))}`);
    await Bun.sleep(5);
  }
  const parsed: ServerFrame[] = [];
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0];
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + len) return;
      parsed.push({ opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, payload: new Uint8Array(buf.subarray(at, at + len)) });
      buf = buf.subarray(at + len);
    }
  };
  return {
    socket,
    head,
    ended,
    send: (bytes) => socket.write(bytes),
    async frames(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        parse();
        if (parsed.length >= n) return parsed.slice(0, n);
        if (Date.now() > until) throw new Error(`timed out waiting for ${n} frame(s); got ${parsed.length}`);
        await Bun.sleep(5);
      }
    },
  };
}

/** A close frame's code (§5.5.1), or null when it has none. */
export function closeCode(frame: ServerFrame): number | null {
  return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : null;
}

/** A raw client that counts what it receives without keeping it (for tens of MiB): binary bytes,
 *  text messages, the close code. Pause its `socket` to stop reading (a stalled client). */
export interface CountingSocket {
  socket: Socket;
  binaryBytes: number;
  texts: string[];
  closeCode: number | null;
  ended: Promise<void>;
  /** Waits until `ready()` holds (bounded). */
  until(ready: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export async function countingWebSocket(port: number, path: string): Promise<CountingSocket> {
  const socket = await rawConnect(port);
  let onEnd: () => void = () => {};
  const ended = new Promise<void>((r) => (onEnd = r));
  socket.on("close", () => onEnd());
  const client: CountingSocket = {
    socket,
    binaryBytes: 0,
    texts: [],
    closeCode: null,
    ended,
    async until(ready, timeoutMs = 10_000, what = "the condition") {
      const deadline = Date.now() + timeoutMs;
      while (!ready()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; binary ${client.binaryBytes} bytes, texts ${JSON.stringify(client.texts.slice(-5))}`);
        await Bun.sleep(5);
      }
    },
  };
  // Stream parse (§5.2): a frame head is gathered in `head`; payloads are counted as they pass and
  // kept only for text and close frames (small here).
  let inHead = true;
  let head = Buffer.alloc(0);
  let opcode = 0;
  let left = 0;
  let kept: Buffer[] | null = null;
  let sawResponseHead = false;
  let pre = Buffer.alloc(0);
  const frameDone = () => {
    if (kept !== null) {
      const payload = Buffer.concat(kept);
      if (opcode === 1) client.texts.push(payload.toString("utf8"));
      if (opcode === 8) client.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    }
    inHead = true;
    head = Buffer.alloc(0);
  };
  const feed = (d: Buffer) => {
    let at = 0;
    while (at < d.length) {
      if (inHead) {
        // A head is 2 to 10 bytes (server frames are unmasked): taken a byte at a time.
        head = Buffer.concat([head, d.subarray(at, at + 1)]);
        at++;
        const short = head.length < 2 ? -1 : head[1] & 0x7f;
        const need = short === 126 ? 4 : short === 127 ? 10 : 2;
        if (short === -1 || head.length < need) continue;
        opcode = head[0] & 0x0f;
        left = short === 126 ? head.readUInt16BE(2) : short === 127 ? Number(head.readBigUInt64BE(2)) : short;
        kept = opcode === 1 || opcode === 8 ? [] : null;
        inHead = false;
        if (left === 0) frameDone();
        continue;
      }
      const n = Math.min(left, d.length - at);
      if (opcode === 2) client.binaryBytes += n;
      kept?.push(d.subarray(at, at + n));
      left -= n;
      at += n;
      if (left === 0) frameDone();
    }
  };
  socket.on("data", (d: Buffer) => {
    if (sawResponseHead) return feed(d);
    pre = Buffer.concat([pre, d]);
    const end = pre.indexOf("\r\n\r\n");
    if (end < 0) return;
    sawResponseHead = true;
    if (!pre.subarray(0, 13).toString("latin1").startsWith("HTTP/1.1 101")) throw new Error(`no 101: ${pre.toString("latin1")}`);
    feed(pre.subarray(end + 4));
  });
  socket.write(handshake(path));
  await client.until(() => sawResponseHead, 5000, "the 101");
  return client;
}
