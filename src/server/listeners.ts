// The listening sockets (Waitress's server.py): TCP host/port pairs and a unix socket, opened
// before anything is served so a bad address fails start-up, not the first request.

import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { chmodSync, lstatSync, rmSync } from "node:fs";
import type { ListenAddress } from "../options/types.ts";
import { DescriptorBudget } from "./descriptor-budget.ts";
import type { Log } from "./log.ts";

export interface Listener {
  server: Server;
  address: ListenAddress;
  /** "http://127.0.0.1:8080", "http://[::1]:8080", "unix:/run/tray.sock" */
  display: string;
  /** Opened by systemd and passed in (socket activation): its unix socket file is systemd's to remove. */
  passed?: boolean;
}

/** A user-caused start-up problem (address in use, bad path): one sentence, exit 1. */
export class ListenError extends Error {}

function displayHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function listenOne(address: ListenAddress, backlog: number, ipv6Only: boolean, onSocket: (socket: Socket, listener: Listener) => void, scheme: string, budget: () => DescriptorBudget): Promise<Listener> {
  return new Promise((resolve, reject) => {
    // Half-open: a client's FIN ends its sending, not the exchange; every complete request it sent
    // is still answered before tray closes (RFC 9112 §9.6).
    const server = createServer({ noDelay: true, allowHalfOpen: true });
    const listener: Listener = { server, address, display: "" };
    // Every listener shares one budget: accept() must never fail (descriptor-budget.ts).
    server.on("connection", (socket: Socket) => {
      if (budget().admit(socket)) onSocket(socket, listener);
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      const where = address.kind === "unix" ? address.path : `${displayHost(address.host)}:${address.port}`;
      const why = err.code === "EADDRINUSE" ? "the address is already in use" : err.code === "EACCES" ? "permission denied" : err.code === "EADDRNOTAVAIL" ? "the address is not available on this machine" : err.message;
      reject(new ListenError(`cannot listen on ${where}: ${why}`));
    });
    if (address.kind === "unix") {
      server.listen({ path: address.path, backlog }, () => {
        listener.display = `unix:${address.path}`;
        resolve(listener);
      });
    } else {
      server.listen({ host: address.host, port: address.port, backlog, ipv6Only }, () => {
        const bound = server.address();
        const port = typeof bound === "object" && bound !== null ? bound.port : address.port;
        listener.display = `${scheme}://${displayHost(address.host)}:${port}`;
        resolve(listener);
      });
    }
  });
}

/** Removes a stale socket file left by a previous run; refuses to remove anything else. */
function clearStaleSocket(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new ListenError(`cannot listen on ${path}: it exists and is not a socket`);
  rmSync(path, { force: true });
}

export async function openListeners(
  addresses: ListenAddress[],
  opts: { backlog: number; unixSocketPerms: number; scheme: string; log: Log },
  onSocket: (socket: Socket, listener: Listener) => void,
): Promise<Listener[]> {
  const opened: Listener[] = [];
  // Measured at the first connection, when start-up (Workers, logs, listeners) has opened its descriptors.
  let measured: DescriptorBudget | null = null;
  const budget = () => (measured ??= DescriptorBudget.measure(opts.log));
  try {
    for (const address of addresses) {
      if (address.kind === "unix") clearStaleSocket(address.path);
      // Every IPv6 socket is IPV6_V6ONLY, as in Waitress: "::" must not also take IPv4 clients
      // (--no-ipv4 means no IPv4), and "0.0.0.0" beside it binds without a conflict.
      const ipv6Only = address.kind === "tcp" && address.host.includes(":");
      const listener = await listenOne(address, opts.backlog, ipv6Only, onSocket, opts.scheme, budget);
      if (address.kind === "unix") chmodSync(address.path, opts.unixSocketPerms);
      opened.push(listener);
    }
  } catch (err) {
    closeListeners(opened);
    throw err;
  }
  return opened;
}

export function closeListeners(listeners: Listener[]): void {
  for (const l of listeners) {
    l.server.close();
    if (l.address.kind === "unix" && l.passed !== true) rmSync(l.address.path, { force: true });
  }
}

/**
 * Socket activation (systemd.ts): listens on sockets systemd already bound and passed as `fds`;
 * --host, --port, --listen and --unix-socket are not used. Each listener's address is what the
 * socket reports (a TCP address, or a unix socket's path).
 */
export async function openPassedListeners(fds: number[], scheme: string, onSocket: (socket: Socket, listener: Listener) => void): Promise<Listener[]> {
  const opened: Listener[] = [];
  try {
    for (const fd of fds) {
      opened.push(
        await new Promise<Listener>((resolve, reject) => {
          const server = createServer({ noDelay: true });
          const listener: Listener = { server, address: { kind: "tcp", host: "", port: 0 }, display: "", passed: true };
          server.on("connection", (socket: Socket) => onSocket(socket, listener));
          server.once("error", (err: NodeJS.ErrnoException) => {
            reject(new ListenError(`cannot listen on the socket systemd passed as fd ${fd}: ${err.code === "EBADF" || err.code === "ENOTSOCK" ? "it is not an open listening socket" : err.message}`));
          });
          server.listen({ fd }, () => {
            const bound = server.address();
            if (typeof bound === "string") {
              listener.address = { kind: "unix", path: bound };
              listener.display = `unix:${bound}`;
            } else if (bound !== null) {
              listener.address = { kind: "tcp", host: bound.address, port: bound.port };
              listener.display = `${scheme}://${displayHost(bound.address)}:${bound.port}`;
            }
            resolve(listener);
          });
        }),
      );
    }
  } catch (err) {
    closeListeners(opened);
    throw err;
  }
  return opened;
}
