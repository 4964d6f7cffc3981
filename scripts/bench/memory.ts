// The memory workloads, driven from the bench process over 127.0.0.1 only:
// - idle: open N keep-alive connections in batches, one GET / answered on each, then leave them
//   idle and read the server tree's RSS (baseline before, with all N open after a settle pause);
// - upload: one POST of many bytes with Content-Length, written in UPLOAD_CHUNK_BYTES pieces from
//   one reused buffer, waiting for 'drain' whenever the socket asks, so the bench process never
//   holds the body; the server tree's peak RSS is sampled while it is received.
import { connect } from "node:net";
import type { Socket } from "node:net";
import { IDLE_BATCH_TIMEOUT_MS, IDLE_SETTLE_MS, UPLOAD_CHUNK_BYTES } from "./config.ts";
import type { BenchProfile } from "./config.ts";
import type { IdleMeasurement, UploadMeasurement } from "./measurements.ts";
import { sampleRss, sleep } from "./process.ts";
import type { RunningServer } from "./process.ts";

const HOST = "127.0.0.1";

/** One keep-alive connection that has had one GET / answered (the body is "Hello, World!"). */
function openAnswered(port: number, onClose: () => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let received = "";
    let settled = false;
    const timer = setTimeout(() => fail(new Error("no answer in time")), IDLE_BATCH_TIMEOUT_MS);
    function fail(error: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }
    socket.once("error", fail);
    socket.once("close", () => {
      if (!settled) fail(new Error("closed before answering"));
      else onClose();
    });
    socket.once("connect", () => socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\n\r\n`));
    socket.on("data", (data: Buffer) => {
      if (settled) return;
      received += data.toString("latin1");
      if (received.endsWith("Hello, World!")) {
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners("error");
        socket.on("error", () => {}); // a reset while idle is counted by the close handler
        resolve(socket);
      }
    });
  });
}

export async function measureIdle(server: RunningServer, profile: BenchProfile): Promise<IdleMeasurement> {
  const rss = sampleRss(server.pid);
  const sockets: Socket[] = [];
  let closed = 0;
  let problem: string | null = null;
  try {
    await sleep(IDLE_SETTLE_MS / 2);
    const baselineKiB = rss.latestKiB();
    const started = performance.now();
    while (sockets.length < profile.idleConnections && problem === null) {
      const size = Math.min(profile.idleBatch, profile.idleConnections - sockets.length);
      const batch = await Promise.allSettled(Array.from({ length: size }, () => openAnswered(server.port, () => closed++)));
      for (const outcome of batch) {
        if (outcome.status === "fulfilled") sockets.push(outcome.value);
        else problem ??= `after ${sockets.length} connections: ${String(outcome.reason)}`;
      }
    }
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(IDLE_SETTLE_MS);
    return {
      kind: "idle",
      wanted: profile.idleConnections,
      opened: sockets.length,
      stillOpen: sockets.length - closed,
      openSeconds,
      baselineKiB,
      idleKiB: rss.latestKiB(),
      peakKiB: rss.peakKiB(),
      problem,
    };
  } finally {
    rss.stop();
    for (const socket of sockets) socket.destroy();
  }
}

export async function measureUpload(server: RunningServer, profile: BenchProfile): Promise<UploadMeasurement> {
  const rss = sampleRss(server.pid);
  let clientPeak = process.memoryUsage().rss;
  const clientSampler = setInterval(() => (clientPeak = Math.max(clientPeak, process.memoryUsage().rss)), 100);
  try {
    await sleep(500);
    const baselineKiB = rss.latestKiB();
    rss.resetPeak();
    const started = performance.now();
    const answer = await postStreamed(server.port, profile.uploadBytes);
    const seconds = (performance.now() - started) / 1000;
    const expected = String(profile.uploadBytes);
    const ok = answer.startsWith("HTTP/1.1 200") && answer.endsWith(`\r\n\r\n${expected}`);
    return {
      kind: "upload",
      bytes: profile.uploadBytes,
      seconds,
      baselineKiB,
      peakKiB: rss.peakKiB(),
      clientPeakKiB: Math.round(clientPeak / 1024),
      problem: ok ? null : JSON.stringify(answer.slice(0, 120)),
    };
  } finally {
    clearInterval(clientSampler);
    rss.stop();
  }
}

/** Sends the body and resolves with the whole response text (the server answers, then we close). */
function postStreamed(port: number, bytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    const chunk = Buffer.alloc(UPLOAD_CHUNK_BYTES, 0x61);
    let response = "";
    let answered = false;
    socket.once("error", reject);
    socket.on("data", (data: Buffer) => {
      response += data.toString("latin1");
      // A short answer (the count, or an error page) is complete once its head and some body are in.
      const head = response.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(response);
      if (head >= 0 && length !== null && response.length - head - 4 >= Number(length[1])) {
        answered = true;
        socket.destroy();
        resolve(response);
      }
    });
    socket.once("close", () => {
      if (!answered) resolve(response);
    });
    socket.once("connect", async () => {
      socket.write(
        `POST /upload HTTP/1.1\r\nHost: ${HOST}:${port}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bytes}\r\n\r\n`,
      );
      let sent = 0;
      while (sent < bytes && !answered && !socket.destroyed) {
        const n = Math.min(chunk.length, bytes - sent);
        const flushed = socket.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        sent += n;
        if (!flushed) await new Promise<void>((drained) => {
          socket.once("drain", drained);
          socket.once("close", drained);
        });
      }
    });
  });
}
