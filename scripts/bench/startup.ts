// Start-up time: exec -> first accepted TCP connection, and exec -> first complete 200 to GET /,
// over N fresh starts of one server (each on a new free port, stopped by pid before the next).
//
// Own loop rather than hyperfine: hyperfine times a command until it exits, and a server does
// not exit; wrapping it in a "start, poll, kill" script would time the wrapper and the kill too.
// The probe retries a refused connect every STARTUP_POLL_MS, so figures are good to ~1-2 ms.
import { connect } from "node:net";
import type { Socket } from "node:net";
import { READY_TIMEOUT_MS, STARTUP_POLL_MS } from "./config.ts";
import type { StartupMeasurement } from "./measurements.ts";
import { freePort, launch, logTail, sleep, stop } from "./process.ts";
import type { LaunchSpec } from "./process.ts";

function tryConnect(port: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(null);
    });
  });
}

function firstResponse(socket: Socket, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    socket.on("data", (data: Buffer) => {
      text += data.toString("latin1");
      if (text.endsWith("Hello, World!")) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.once("error", reject);
    socket.once("close", () => resolve(text));
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
  });
}

export async function measureStartup(spec: (port: number) => LaunchSpec, runs: number, logPath: string): Promise<StartupMeasurement> {
  const connectMs: number[] = [];
  const responseMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const server = launch(spec(port), port, logPath);
    try {
      let socket: Socket | null = null;
      while (socket === null) {
        if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
          throw new Error(`exited before accepting: ${logTail(logPath)}`);
        }
        if (performance.now() - t0 > READY_TIMEOUT_MS) throw new Error(`no connection accepted within ${READY_TIMEOUT_MS} ms`);
        socket = await tryConnect(port);
        if (socket === null) await sleep(STARTUP_POLL_MS);
      }
      connectMs.push(performance.now() - t0);
      const answer = await firstResponse(socket, port);
      if (!answer.startsWith("HTTP/1.1 200")) throw new Error(`first answer was ${JSON.stringify(answer.slice(0, 60))}`);
      responseMs.push(performance.now() - t0);
    } finally {
      await stop(server);
    }
  }
  return { kind: "startup", connectMs, responseMs };
}
