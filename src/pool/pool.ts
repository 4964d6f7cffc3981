// The Worker pool: --threads Workers each load the app once and run many requests concurrently.
// The main thread calls dispatch(); the pool answers through the request's ResponseSink.
//
// Strategy: each Worker sits in a Slot with its own Outbox; dispatch() picks the ready slot with
// the fewest requests in flight and only queues the request, and one setImmediate per turn sends
// every slot's queue as one message (protocol.ts). A request id encodes its slot (id % threads),
// so ack()/cancel() find their Worker without a lookup table. Replies are decoded op by op and
// handed to the sinks. A Worker that dies fails only the requests it was actually sent; requests
// still queued for it go to its replacement, which starts at once in the same slot.
// reload() (--reload) starts a fresh Worker per slot and, once all have loaded the app, swaps
// them in; each old slot is "retired": it keeps its Worker and its requests, gets no new ones,
// and stops when the last one settles (ack/cancel find it by id among the retired slots).
// reload() and retire() stay in this file: they swap slots inside the pool's own slot list, and
// the retired set they keep is read on the hot path (flush, ack/cancel, settling a request).
//
// Beside this file: slot.ts (Slot, Entry, a Worker's states), types.ts (PoolOptions, PoolRequest,
// ResponseSink: what the server hands in and hears back).
import { AppLoadError } from "../app/loader.ts";
import {
  BODY_APP_ERROR,
  BODY_UNAVAILABLE,
  RELOAD_DRAIN_MS,
  RESPAWN_RETRY_MS,
  RETIRE_GRACE_MS,
  STATUS_APP_ERROR,
  STATUS_UNAVAILABLE,
} from "./limits.ts";
import {
  OP_ACK,
  OP_CANCEL,
  OP_DATA,
  OP_END,
  OP_ERROR,
  OP_FATAL,
  OP_HEAD,
  OP_INIT,
  OP_LOAD_FAILED,
  OP_LOG,
  OP_READY,
  OP_REQUEST,
  OP_RESPONSE,
  Outbox,
  messageBytes,
  messageFields,
  type Message,
} from "./protocol.ts";
import { DEAD, Entry, READY, STARTING, Slot, errorEventReason } from "./slot.ts";
import type { PoolOptions, PoolRequest, ResponseSink } from "./types.ts";
import { workerURL } from "./worker-url.ts";

export class WorkerPool {
  private readonly options: PoolOptions;
  private readonly slots: Slot[] = [];
  private sequence = 0;
  private cursor = 0;
  private total = 0;
  private flushScheduled = false;
  private closing = false;
  private closed = false;
  private onIdle: (() => void) | null = null;
  /** What --interface=auto chose (or noticed), from the first Worker to load; logged once by start(). */
  private loadNote = "";
  /** Slots replaced by reload() that still hold requests. */
  private readonly retiring = new Set<Slot>();
  /** Slots reload() is starting, not yet swapped in. */
  private fresh: Slot[] = [];

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be a positive integer, not ${options.threads}`);
    this.options = options;
    for (let i = 0; i < options.threads; i++) this.slots.push(new Slot(i));
  }

  /** Starts the Workers and resolves once every one has loaded the app; rejects with an
   *  AppLoadError (one sentence naming the module) when loading fails. */
  async start(): Promise<void> {
    const failure = await this.load(this.slots);
    if (failure !== null) {
      this.closing = this.closed = true;
      for (const slot of this.slots) this.stop(slot);
      throw new AppLoadError(failure);
    }
    if (this.loadNote !== "") this.options.log(this.loadNote);
  }

  dispatch(request: PoolRequest, sink: ResponseSink): number {
    const slot = this.pick();
    const id = ++this.sequence * this.slots.length + slot.index;
    if (this.closing) {
      request.releaseBody?.(false);
      queueMicrotask(() => sink.error(STATUS_UNAVAILABLE, BODY_UNAVAILABLE));
      return id;
    }
    slot.entries.set(id, new Entry(sink, request.requestLine, request.releaseBody));
    slot.inFlight++;
    this.total++;
    const out = slot.outbox;
    const f = out.fields;
    const headers = request.headers;
    f.push(OP_REQUEST, id, request.method, request.url, headers.length);
    for (let i = 0; i < headers.length; i++) f.push(headers[i]);
    f.push(request.bodyFd);
    if (request.body === null) f.push(0, 0, 0);
    else out.pushBytes(request.body, true);
    const remote = request.remote;
    f.push(request.bodyLength, remote.hostname, remote.port, remote.transport, request.family, request.scriptName, request.versionMinor);
    this.scheduleFlush();
    return id;
  }

  /** The server flushed `bytes` of request `id`'s response body to its socket (flow control). */
  ack(id: number, bytes: number): void {
    const slot = this.owner(id);
    if (slot === null) return;
    slot.outbox.fields.push(OP_ACK, id, bytes);
    this.scheduleFlush();
  }

  /** The client went away: cancel the app's body stream and abort request.signal. */
  cancel(id: number): void {
    const slot = this.owner(id);
    const entry = slot?.entries.get(id);
    if (slot === null || entry === undefined) return;
    slot.entries.delete(id);
    this.settled(slot);
    // The Worker may still be reading the body's file until it sees the cancel: never reuse it.
    entry.releaseBody?.(false);
    slot.outbox.fields.push(OP_CANCEL, id);
    this.scheduleFlush();
  }

  /** The slot holding request `id`: its own slot, or (after a reload) a retired one; null if settled. */
  private owner(id: number): Slot | null {
    const slot = this.slots[id % this.slots.length];
    if (slot.entries.has(id)) return slot;
    if (this.retiring.size > 0) for (const old of this.retiring) if (old.entries.has(id)) return old;
    return null;
  }

  /**
   * --reload: loads the app again in one fresh Worker per slot; once every one has loaded, new
   * requests go to them, and the old Workers finish what they were sent (at most RELOAD_DRAIN_MS)
   * and stop. Resolves null when the new code serves, or the load failure, in which case the old
   * Workers keep serving as if nothing happened.
   */
  async reload(): Promise<string | null> {
    if (this.closing || this.fresh.length > 0) return this.closing ? "the server is shutting down" : "a reload is already running";
    const fresh = this.slots.map((old) => new Slot(old.index));
    this.fresh = fresh;
    const failure = await this.load(fresh);
    this.fresh = [];
    if (failure !== null || this.closing) {
      for (const slot of fresh) this.stop(slot);
      return failure ?? "the server is shutting down";
    }
    this.flush(); // requests queued for the old Workers go to them
    for (const slot of fresh) {
      const old = this.slots[slot.index];
      this.slots[slot.index] = slot;
      if (old.worker === null) {
        // No Worker (waiting to retry a failed respawn): its queued requests are the new one's.
        if (old.retryTimer !== null) clearTimeout(old.retryTimer);
        for (const [id, entry] of old.entries) slot.entries.set(id, entry);
        slot.inFlight = old.inFlight;
        slot.outbox = old.outbox;
        if (!slot.outbox.empty) this.scheduleFlush();
        continue;
      }
      old.retired = true;
      this.retiring.add(old);
      if (old.inFlight === 0) {
        this.retire(old);
        continue;
      }
      old.drainTimer = setTimeout(() => {
        const failed = this.failAll(old, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, () => true);
        this.options.log(`worker ${old.index}: ${failed} request(s) still running on the code before the reload after ${RELOAD_DRAIN_MS} ms were stopped`);
        this.retire(old);
      }, RELOAD_DRAIN_MS);
    }
    return null;
  }

  /** Starts a Worker in each slot; resolves null once all have loaded the app, or with the first
   *  load failure (no need to wait for the others to finish loading). */
  private load(slots: Slot[]): Promise<string | null> {
    return new Promise((resolve) => {
      let left = slots.length;
      for (const slot of slots) {
        slot.onLoad = (failure) => {
          if (failure !== null) resolve(failure);
          else if (--left === 0) resolve(null);
        };
        this.spawn(slot);
      }
    });
  }

  /** A replaced slot holds no more requests: it stays reachable a moment longer, so what is
   *  still queued for its Worker (a cancel) is sent and run, then the Worker stops. */
  private retire(slot: Slot): void {
    if (slot.drainTimer !== null) clearTimeout(slot.drainTimer);
    slot.drainTimer = setTimeout(() => {
      slot.drainTimer = null;
      this.retiring.delete(slot);
      const worker = slot.worker;
      this.detach(slot);
      worker?.terminate();
    }, RETIRE_GRACE_MS);
  }

  /** Requests in flight across all Workers. */
  get inFlight(): number {
    return this.total;
  }

  /** Waits for in-flight requests (at most graceMs), then terminates the Workers. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    if (this.total > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.onIdle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.onIdle = null;
    }
    this.closed = true;
    for (const slot of [...this.slots, ...this.retiring]) {
      this.failAll(slot, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, () => true);
      if (slot.drainTimer !== null) clearTimeout(slot.drainTimer);
      this.stop(slot);
    }
    this.retiring.clear();
    for (const slot of this.fresh) slot.onLoad?.("the server is shutting down");
  }

  private pick(): Slot {
    const slots = this.slots;
    const n = slots.length;
    if (n === 1) return slots[0];
    // Rotate the starting point so ties spread over the Workers instead of piling on the first.
    const start = (this.cursor = (this.cursor + 1) % n);
    let best: Slot | null = null;
    let fallback = slots[start];
    for (let k = 0; k < n; k++) {
      const slot = slots[(start + k) % n];
      if (slot.state === READY && (best === null || slot.inFlight < best.inFlight)) best = slot;
      if (slot.inFlight < fallback.inFlight) fallback = slot;
    }
    // No Worker ready (all replaced at once): queue anyway, a replacement will run it.
    return best ?? fallback;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flush);
  }

  // Everything queued during the turn leaves as one message per Worker.
  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const slot of this.slots) {
      if (slot.outbox.empty || slot.worker === null) continue;
      const { message, transfer } = slot.outbox.take();
      slot.posted = this.sequence * this.slots.length + slot.index;
      slot.worker.postMessage(message, transfer);
    }
    if (this.retiring.size === 0) return;
    for (const slot of this.retiring) {
      if (slot.outbox.empty || slot.worker === null) continue;
      const { message, transfer } = slot.outbox.take();
      slot.worker.postMessage(message, transfer);
    }
  };

  private spawn(slot: Slot): void {
    slot.retryTimer = null;
    if (this.closed) return;
    const worker = new Worker(workerURL());
    slot.worker = worker;
    slot.state = STARTING;
    slot.fatalReason = null;
    worker.addEventListener("message", (event: MessageEvent<Message>) => {
      if (slot.worker === worker) this.receive(slot, event.data);
    });
    worker.addEventListener("error", (event: ErrorEvent) => {
      // Uncaught errors normally arrive as OP_FATAL first; this is the fallback reason.
      if (slot.worker === worker) slot.fatalReason ??= errorEventReason(event);
    });
    worker.addEventListener("close", (event: Event) => {
      if (slot.worker !== worker) return;
      const code = (event as CloseEvent).code;
      this.died(slot, slot.fatalReason ?? `exited with code ${code}`);
    });
    const { app, exposeTracebacks, highWatermark } = this.options;
    const appInterface = this.options.appInterface ?? "auto";
    worker.postMessage(JSON.stringify([OP_INIT, app.module, app.object, app.call ? 1 : 0, app.cwd, exposeTracebacks ? 1 : 0, highWatermark, appInterface]));
    // Requests left queued by a Worker that died follow the init message.
    if (!slot.outbox.empty) this.scheduleFlush();
  }

  private receive(slot: Slot, message: Message): void {
    const f = messageFields(message);
    let i = 0;
    while (i < f.length) {
      const op = f[i] as number;
      const id = f[i + 1] as number;
      switch (op) {
        case OP_RESPONSE: {
          const n = f[i + 4] as number;
          const at = i + 5 + n;
          const entry = this.take(slot, id);
          if (entry !== null) {
            const length = f[at + 2] as number;
            const sink = entry.sink;
            try {
              sink.head(f[i + 2] as number, f[i + 3] as string, f.slice(i + 5, at) as string[], length);
              if (length > 0) sink.data(messageBytes(message, f[at] as number, f[at + 1] as number, length));
              sink.end();
            } catch (error) {
              this.sinkFailed(error);
            }
          }
          i = at + 3;
          break;
        }
        case OP_HEAD: {
          const n = f[i + 4] as number;
          const at = i + 5 + n;
          const entry = slot.entries.get(id);
          if (entry !== undefined) {
            const length = f[at] as number;
            try {
              entry.sink.head(f[i + 2] as number, f[i + 3] as string, f.slice(i + 5, at) as string[], length < 0 ? null : length);
            } catch (error) {
              this.sinkFailed(error);
            }
          }
          i = at + 1;
          break;
        }
        case OP_DATA: {
          const entry = slot.entries.get(id);
          if (entry !== undefined) {
            try {
              entry.sink.data(messageBytes(message, f[i + 2] as number, f[i + 3] as number, f[i + 4] as number));
            } catch (error) {
              this.sinkFailed(error);
            }
          }
          i += 5;
          break;
        }
        case OP_END: {
          const entry = this.take(slot, id);
          if (entry !== null) {
            try {
              entry.sink.end();
            } catch (error) {
              this.sinkFailed(error);
            }
          }
          i += 2;
          break;
        }
        case OP_ERROR: {
          const entry = this.take(slot, id);
          if (entry !== null) {
            const logText = f[i + 4] as string;
            if (logText !== "") this.options.log(`error while serving "${entry.requestLine}": ${logText}`);
            try {
              entry.sink.error(f[i + 2] as number, f[i + 3] as string);
            } catch (error) {
              this.sinkFailed(error);
            }
          }
          i += 5;
          break;
        }
        case OP_LOG:
          this.options.log(f[i + 1] as string);
          i += 2;
          break;
        case OP_READY:
          if (this.loadNote === "") this.loadNote = f[i + 1] as string;
          this.loaded(slot, null);
          i += 2;
          break;
        case OP_LOAD_FAILED:
          this.loaded(slot, f[i + 1] as string);
          i += 2;
          break;
        case OP_FATAL:
          slot.fatalReason = f[i + 1] as string;
          i += 2;
          break;
        default:
          throw new Error(`bug: unknown op ${op} from worker ${slot.index}`);
      }
    }
  }

  /** Removes a request the Worker has finished (its last op arrived), keeping the counts right
   *  before the sink hears of it (a sink may dispatch the connection's next request from inside
   *  end()). The Worker closed the body's file before that op: the file may be reused. */
  private take(slot: Slot, id: number): Entry | null {
    const entry = slot.entries.get(id);
    if (entry === undefined) return null;
    slot.entries.delete(id);
    this.settled(slot);
    entry.releaseBody?.(true);
    return entry;
  }

  private settled(slot: Slot): void {
    slot.inFlight--;
    if (--this.total === 0 && this.onIdle !== null) this.onIdle();
    if (slot.retired && slot.inFlight === 0 && this.retiring.has(slot)) this.retire(slot);
  }

  private sinkFailed(error: unknown): void {
    this.options.log(`bug: a response sink threw: ${error instanceof Error ? error.stack : String(error)}`);
  }

  private loaded(slot: Slot, failure: string | null): void {
    const onLoad = slot.onLoad;
    slot.onLoad = null;
    if (failure === null) {
      slot.state = READY;
      onLoad?.(null);
      return;
    }
    if (onLoad !== null) {
      onLoad(failure); // start() fails as a whole
      return;
    }
    if (slot.retired) {
      // A respawn that was loading when a reload replaced it: its requests fail, the new Worker serves.
      this.failAll(slot, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, () => true);
      this.retire(slot);
      return;
    }
    // A replacement could not load the app (it changed on disk?): keep trying, others serve.
    this.options.log(`worker ${slot.index}: the replacement could not load the app: ${failure}; retrying in ${RESPAWN_RETRY_MS} ms`);
    const worker = slot.worker;
    this.detach(slot);
    this.failAll(slot, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, () => true);
    slot.outbox = new Outbox();
    worker?.terminate();
    slot.retryTimer = setTimeout(() => this.spawn(slot), RESPAWN_RETRY_MS);
  }

  /** The Worker is gone: fail what it was sent, keep what it was not, start a replacement. */
  private died(slot: Slot, reason: string): void {
    const worker = slot.worker;
    const wasStarting = slot.onLoad !== null;
    const wasReady = slot.state === READY;
    this.detach(slot);
    worker?.terminate();
    const body = this.options.exposeTracebacks ? `${BODY_APP_ERROR}\n\nThe worker running the app died: ${reason}` : BODY_APP_ERROR;
    if (slot.retired) {
      // A replaced Worker is not replaced again: what it held fails, the new Worker serves on.
      const failed = this.failAll(slot, STATUS_APP_ERROR, body, () => true);
      this.options.log(`worker ${slot.index} (replaced by a reload) died (${reason}); ${failed} request(s) in flight on it failed`);
      this.retire(slot);
      return;
    }
    if (wasStarting) {
      const onLoad = slot.onLoad!;
      slot.onLoad = null;
      onLoad(`"${this.options.app.module}" stopped its Worker while loading: ${reason}`);
      return;
    }
    if (this.closed) return;
    const posted = slot.posted;
    const failed = this.failAll(slot, STATUS_APP_ERROR, body, (id) => id <= posted);
    if (wasReady) {
      this.options.log(`worker ${slot.index} died (${reason}); ${failed} request(s) in flight on it failed; starting a replacement`);
      // Acks and cancels queued for the dead Worker mean nothing to the new one; requests do.
      this.spawn(slot);
    } else {
      // A replacement that dies while loading would die again at once: pause between attempts.
      this.options.log(`worker ${slot.index}: the replacement died while loading the app (${reason}); retrying in ${RESPAWN_RETRY_MS} ms`);
      slot.retryTimer = setTimeout(() => this.spawn(slot), RESPAWN_RETRY_MS);
    }
  }

  private detach(slot: Slot): void {
    slot.worker = null;
    slot.state = DEAD;
  }

  /** Fails the slot's requests that `which` selects; returns how many. */
  private failAll(slot: Slot, status: number, body: string, which: (id: number) => boolean): number {
    let count = 0;
    for (const [id, entry] of slot.entries) {
      if (!which(id)) continue;
      slot.entries.delete(id);
      this.settled(slot);
      entry.releaseBody?.(false);
      count++;
      try {
        entry.sink.error(status, body);
      } catch (error) {
        this.sinkFailed(error);
      }
    }
    return count;
  }

  private stop(slot: Slot): void {
    if (slot.retryTimer !== null) clearTimeout(slot.retryTimer);
    slot.retryTimer = null;
    slot.outbox = new Outbox();
    const worker = slot.worker;
    this.detach(slot);
    worker?.terminate();
  }
}
