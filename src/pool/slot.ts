// One place in the Worker pool (pool.ts): the Worker in it (or none), that Worker's state, the
// requests it holds, and the Outbox queueing messages for it.
//
// Strategy: plain data; the pool decides, a Slot only records. A slot outlives its Workers: when
// one dies, its replacement starts in the same slot and inherits what was queued but not yet
// posted (`posted` marks the line). reload() puts fresh slots in place and the old ones are
// retired (`retired`, `drainTimer`) until their last request settles.
import type { Heartbeat } from "./heartbeat.ts";
import { Outbox } from "./outbox.ts";
import type { ResponseSink, TunnelPeer, WebSocketPeer } from "./types.ts";

/** A dispatched request the main thread still waits on. */
export class PendingRequest {
  constructor(
    readonly sink: ResponseSink,
    readonly requestLine: string,
    readonly releaseBody: ((reusable: boolean) => void) | null,
    /** When it was dispatched, by the pool's clock (--request-timeout, log lines). */
    readonly dispatchedAt: number,
  ) {}
  /** The response head has arrived (OP_HEAD): --request-timeout no longer applies. */
  headed = false;
}

export const STARTING = 0; // spawned, loading the app
export const READY = 1;
export const DEAD = 2; // no Worker: died, or failed to load and waiting to retry

export class Slot {
  worker: Worker | null = null;
  state = DEAD;
  inFlight = 0;
  readonly entries = new Map<number, PendingRequest>();
  /** Open WebSockets whose handlers run in this slot's Worker, by their upgrade request's id. */
  readonly sockets = new Map<number, WebSocketPeer>();
  /** Node-style tunnels ('upgrade' listeners) in this slot's Worker, by their request's id. */
  readonly tunnels = new Map<number, TunnelPeer>();
  outbox = new Outbox();
  /** Highest request id already posted to the current Worker; later ones are still queued. */
  posted = -1;
  /** Why the Worker is dying, when it said so (OP_FATAL) before its close event. */
  fatalReason: string | null = null;
  retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** start() waiting for this slot's first load. */
  onLoad: ((failure: string | null) => void) | null = null;
  /** Replaced by reload(): finishing its requests, then stopping. */
  retired = false;
  drainTimer: ReturnType<typeof setTimeout> | null = null;
  /** The current Worker's heartbeat (--worker-timeout, --worker-max-memory), when either is on. */
  heartbeat: Heartbeat | null = null;
  /** Requests given to the current Worker, and after how many it is replaced (--max-requests; 0 never). */
  served = 0;
  serveLimit = 0;

  constructor(readonly index: number) {}
}

/** One line out of a Worker error event (Bun puts a source excerpt before the message). */
export function errorEventReason(event: ErrorEvent): string {
  const lines = String(event.message ?? "").split("\n");
  const line = lines.find((l) => /^\w*(error|exception)\b/i.test(l.trim())) ?? lines.find((l) => l.trim() !== "") ?? "error";
  return `uncaught ${line.trim()}`;
}
