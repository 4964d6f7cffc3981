// systemd integration: socket activation (sd_listen_fds(3)) and readiness notification (sd_notify(3)).
//
// Socket activation: systemd (or systemd-socket-activate) opens the listening sockets and passes
// them as fds 3, 4, ... with LISTEN_PID (the pid they are meant for) and LISTEN_FDS (how many);
// tray then listens on those instead of --host/--port/--listen. The variables are removed from the
// environment once read (sd_listen_fds' unset_environment), so no child or app code takes them
// for its own.
//
// Notification: with NOTIFY_SOCKET set (a Type=notify unit), tray sends READY=1 once serving,
// RELOADING=1 and READY=1 around a reload, STOPPING=1 on shutdown. NOTIFY_SOCKET names an AF_UNIX
// SOCK_DGRAM socket (a path, or "@name" in the abstract namespace); neither node:dgram nor
// node:net can send a datagram there, so the message goes out through libc's socket(2) and
// sendto(2) via bun:ffi, which works inside a `bun build --compile` binary. When libc cannot be
// loaded (a platform without it) notification is skipped with one log line: a unit waiting for
// READY=1 then times out, which says plainly what is missing.

import type { Log } from "./log.ts";
import { dlopen, FFIType, ptr } from "bun:ffi";

/** sd_listen_fds(3): the first passed fd. */
export const SD_LISTEN_FDS_START = 3;
/** More passed sockets than this is not a plausible unit: refuse rather than listen on stray fds. */
export const MAX_LISTEN_FDS = 64;

/** A user-caused start-up problem with the passed sockets: one sentence, exit 1. */
export class SystemdError extends Error {}

/**
 * The fds systemd passed to this process (3 .. 3+LISTEN_FDS-1), or null when none were passed
 * to it (no LISTEN_PID, or one naming another process). Removes LISTEN_PID, LISTEN_FDS and
 * LISTEN_FDNAMES from `env`.
 */
export function takeListenFds(env: Record<string, string | undefined>, pid: number): number[] | null {
  const pidText = env.LISTEN_PID;
  const fdsText = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (pidText === undefined || fdsText === undefined) return null;
  if (!/^[0-9]+$/.test(pidText) || Number(pidText) !== pid) return null; // meant for another process
  const n = /^[0-9]+$/.test(fdsText) ? Number(fdsText) : NaN;
  if (!(n >= 1 && n <= MAX_LISTEN_FDS)) {
    throw new SystemdError(`LISTEN_FDS is ${JSON.stringify(fdsText)}; systemd passes a whole number of sockets from 1 to ${MAX_LISTEN_FDS}.`);
  }
  const fds: number[] = [];
  for (let i = 0; i < n; i++) fds.push(SD_LISTEN_FDS_START + i);
  return fds;
}

// --- sd_notify ---------------------------------------------------------------------------------

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000; // Linux
/** sizeof(struct sockaddr_un) on Linux: 2 bytes of family, 108 of path. */
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_MAX = 108;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, addrLen: number): number;
  close(fd: number): number;
}

let libc: Libc | null | undefined;

function loadLibc(log: Log): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"]) {
    try {
      const lib = dlopen(name, {
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
      });
      const s = lib.symbols;
      libc = {
        socket: (d, t, p) => s.socket(d, t, p),
        sendto: (fd, buf, len, flags, addr, addrLen) => Number(s.sendto(fd, ptr(buf), len, flags, ptr(addr), addrLen)),
        close: (fd) => s.close(fd),
      };
      return libc;
    } catch {
      // try the next name
    }
  }
  log("tray: warning: NOTIFY_SOCKET is set but libc could not be loaded to notify systemd; readiness is not reported", "warning");
  return libc;
}

/** sockaddr_un for a NOTIFY_SOCKET value, and its length; null when it is not one (sd_notify(3): absolute path or "@abstract"). */
export function notifySocketAddress(value: string): { addr: Uint8Array; length: number } | null {
  const abstract = value.startsWith("@");
  if (!abstract && !value.startsWith("/")) return null;
  const path = Buffer.from(abstract ? value.slice(1) : value, "utf8");
  // An abstract name is a leading NUL and the name's bytes; a path is NUL-terminated.
  const pathLength = abstract ? 1 + path.length : path.length + 1;
  if (pathLength > SUN_PATH_MAX) return null;
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true); // sa_family_t, host order (little-endian on every target)
  addr.set(path, abstract ? 3 : 2);
  return { addr, length: 2 + pathLength };
}

let notifyLog: Log = () => {};

/** Remembers where to log notification problems (serve() calls it once). */
export function setNotifyLog(log: Log): void {
  notifyLog = log;
}

/** Sends one sd_notify message ("READY=1", ...) when NOTIFY_SOCKET is set; returns whether it was sent. */
export function sdNotify(state: string, env: Record<string, string | undefined> = process.env): boolean {
  const target = env.NOTIFY_SOCKET;
  if (target === undefined || target === "" || process.platform !== "linux") return false;
  const address = notifySocketAddress(target);
  if (address === null) {
    notifyLog(`tray: warning: NOTIFY_SOCKET=${JSON.stringify(target)} is not an absolute path or @name; systemd is not notified`, "warning");
    return false;
  }
  const c = loadLibc(notifyLog);
  if (c === null) return false;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    notifyLog(`tray: warning: could not open a socket to notify systemd (${state})`, "warning");
    return false;
  }
  const message = Buffer.from(state, "utf8");
  const sent = c.sendto(fd, message, message.length, 0, address.addr, address.length);
  c.close(fd);
  if (sent !== message.length) notifyLog(`tray: warning: could not notify systemd at ${target} (${state})`, "warning");
  return sent === message.length;
}

/** READY=1: tray is serving (after start-up, and after a reload). */
export function notifyReady(): void {
  sdNotify("READY=1");
}

/** RELOADING=1 with the monotonic time systemd 253+ asks for (sd_notify(3) MONOTONIC_USEC); READY=1 follows when done. */
export function notifyReloading(): void {
  const usec = process.hrtime.bigint() / 1000n; // CLOCK_MONOTONIC, as libuv's and Bun's hrtime read it
  sdNotify(`RELOADING=1\nMONOTONIC_USEC=${usec}`);
}

/** STOPPING=1: shutdown began. */
export function notifyStopping(): void {
  sdNotify("STOPPING=1");
}
