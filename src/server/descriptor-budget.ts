// Accepting within the process's file-descriptor limit (issue 13 item 2: no busy loop).
//
// Why here: Bun's usockets listener ignores a failed accept() ("Todo: start timer here" in
// packages/bun-usockets/src/loop.c, Bun 1.4.5; oven-sh/bun#32705 proposes the fix) and polls the
// listening socket level-triggered, so once descriptors run out the event loop spins on
// accept4() -> EMFILE at 100 % CPU. JS never sees that error, and node:net cannot stop polling a
// listener without closing it (and losing the port).
//
// Strategy: never let accept() fail. RLIMIT_NOFILE and the descriptors already open are read
// when the listeners open; sockets tray holds are counted; past the limit less a reserve (body
// and spill temp files, the log, what the Workers open) each new socket is closed as soon as it
// is accepted. The backlog drains as with libuv's and nginx's EMFILE handling, clients see a
// closed connection rather than a hang, connections already held keep being served, and the
// episode is logged once when it starts and once when it ends.

import { readFileSync, readdirSync } from "node:fs";
import type { Socket } from "node:net";
import type { Log } from "./log.ts";

/** Descriptors kept free for what requests open besides their socket; at most a quarter of the limit. */
export const DESCRIPTOR_RESERVE = 64;

/** An episode ends when held sockets fall this far below the budget (no log line per socket). */
const HYSTERESIS = 0.9;

/** The soft RLIMIT_NOFILE from /proc/self/limits, or null where that file does not exist. */
export function openFilesLimit(limits = "/proc/self/limits"): number | null {
  let text: string;
  try {
    text = readFileSync(limits, "utf8");
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  return m === null || m[1] === "unlimited" ? null : Number(m[1]);
}

function openDescriptors(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/** The descriptors kept free under this limit. */
export function descriptorReserve(limit: number): number {
  return Math.min(DESCRIPTOR_RESERVE, Math.floor(limit / 4));
}

/** How many sockets may be held at once: the limit, less what is open now, less the reserve. */
export function socketBudget(limit: number | null, open: number): number {
  if (limit === null) return Infinity;
  return Math.max(1, limit - open - descriptorReserve(limit));
}

export class DescriptorBudget {
  private held = 0;
  private refusing = false;
  private refused = 0;

  constructor(
    readonly budget: number,
    private readonly limit: number | null,
    private readonly log: Log,
  ) {}

  /** Measured now (call once the listeners and the Workers are up). */
  static measure(log: Log): DescriptorBudget {
    const limit = openFilesLimit();
    return new DescriptorBudget(socketBudget(limit, openDescriptors()), limit, log);
  }

  /** True when the socket is held (and counted until it closes); false when it was closed. */
  admit(socket: Socket): boolean {
    if (this.held >= this.budget) {
      socket.destroy();
      this.refused++;
      if (!this.refusing) {
        this.refusing = true;
        this.log(
          `tray: ${this.held} connections hold all the file descriptors tray may use (RLIMIT_NOFILE ${this.limit}, ${this.limit === null ? 0 : descriptorReserve(this.limit)} kept for files): ` +
            `new connections are closed until some end; raise the limit (ulimit -n) or lower --connection-limit and --backlog`,
          "warning",
        );
      }
      return false;
    }
    this.held++;
    socket.once("close", () => this.connectionGone());
    return true;
  }

  private connectionGone(): void {
    this.held--;
    if (this.refusing && this.held < this.budget * HYSTERESIS) {
      this.refusing = false;
      this.log(`tray: accepting connections again (${this.refused} closed unserved while descriptors were short)`, "info");
      this.refused = 0;
    }
  }
}
