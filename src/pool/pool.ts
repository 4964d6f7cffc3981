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
// WebSockets: a request the app upgrades keeps its id as a WebSocket in the same slot
// (slot.sockets), so its messages go to the Worker that runs its handlers; the main thread's
// session (src/server/websocket-session.ts) is its WebSocketPeer. A Worker that dies closes only
// its own WebSockets (1011). Topic counts span every Worker: the main thread's registry says
// how many subscribers a topic has and every Worker is told (subscriberCount() is synchronous).
//
// Node-style tunnels: a request a Node-style app's 'upgrade' listener took keeps its id as a
// byte tunnel in the same slot (slot.tunnels); the main thread's side (src/server/tunnel.ts) is
// its TunnelPeer. A Worker that dies cuts only its own tunnels.
//
// Beside this file: slot.ts (Slot, PendingRequest, a Worker's states), types.ts (PoolOptions, PoolRequest,
// ResponseSink: what the server hands in and hears back).
import { AppLoadError } from "../app/loader.ts";
import {
  BODY_APP_ERROR,
  BODY_UNAVAILABLE,
  MEMORY_SILENCE_MS,
  MAIN_THREAD_ALLOWANCE_MIB,
  RELOAD_DRAIN_MS,
  RESPAWN_RETRY_MS,
  RETIRE_GRACE_MS,
  STATUS_APP_ERROR,
  STATUS_UNAVAILABLE,
} from "./limits.ts";
import {
  OP_DATA,
  OP_END,
  OP_ERROR,
  OP_FATAL,
  OP_HEAD,
  OP_LOAD_FAILED,
  OP_LOG,
  OP_READY,
  OP_RESPONSE,
  OP_WS_CLOSE,
  OP_WS_PUBLISH,
  OP_WS_RECEIVED,
  OP_WS_SEND,
  OP_WS_SUBSCRIBE,
  OP_WS_TERMINATE,
  OP_WS_UNSUBSCRIBE,
  OP_WS_UPGRADE,
  decodeFromWorker,
  encodeAck,
  encodeAbort,
  encodeReceived,
  encodeCancel,
  encodeInit,
  encodeRequest,
  encodeWsAck,
  encodeWsClosed,
  encodeWsMessage,
  encodeWsOpen,
  encodeWsPing,
  encodeWsPong,
  encodeWsTopicCount,
} from "./protocol.ts";
import {
  OP_TUNNEL_DESTROY,
  OP_TUNNEL_FINISH,
  OP_TUNNEL_OPEN,
  OP_TUNNEL_RECEIVED,
  OP_TUNNEL_WRITE,
  encodeTunnelAck,
  encodeTunnelClosed,
  encodeTunnelData,
  encodeTunnelEnd,
} from "./protocol-tunnel.ts";
import {
  Outbox,
  messageFields,
  type Message,
} from "./outbox.ts";
import { HEARTBEAT_MS, Heartbeat } from "./heartbeat.ts";
import { DEAD, PendingRequest, READY, STARTING, Slot, errorEventReason } from "./slot.ts";
import type { PoolOptions, PoolRequest, PublishHandler, ResponseSink, TunnelPeer, WebSocketPeer } from "./types.ts";
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
  /** Slots recycle() is starting (--max-requests), not yet swapped in. */
  private readonly recycled = new Set<Slot>();
  /** The clock of every deadline (injectable for tests). */
  private readonly now: () => number;
  private watchdog: ReturnType<typeof setInterval> | null = null;

  constructor(options: PoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be a positive integer, not ${options.threads}`);
    this.options = options;
    this.now = options.now ?? Date.now;
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
    if (this.loadNote !== "") this.options.log(this.loadNote, "info");
    this.startWatchdog();
  }

  dispatch(request: PoolRequest, sink: ResponseSink): number {
    const slot = this.pick();
    const id = ++this.sequence * this.slots.length + slot.index;
    if (this.closing) {
      request.releaseBody?.(false);
      queueMicrotask(() => sink.error(STATUS_UNAVAILABLE, BODY_UNAVAILABLE));
      return id;
    }
    slot.entries.set(id, new PendingRequest(sink, request.requestLine, request.releaseBody, this.now()));
    if (slot.serveLimit > 0) this.countRequest(slot);
    slot.inFlight++;
    this.total++;
    encodeRequest(slot.outbox, id, request);
    this.scheduleFlush();
    return id;
  }

  /** The server flushed `bytes` of request `id`'s response body to its socket (flow control). */
  ack(id: number, bytes: number): void {
    const slot = this.owner(id);
    if (slot === null) return;
    encodeAck(slot.outbox, id, bytes);
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
    encodeCancel(slot.outbox, id);
    this.scheduleFlush();
  }

  /** The client half-closed (RFC 9112 §9.6) while request `id` runs: it will send nothing more, so
   *  request.signal aborts (as Go cancels a request's context on EOF), yet the answer still goes out. */
  abort(id: number): void {
    const slot = this.owner(id);
    if (slot === null) return;
    encodeAbort(slot.outbox, id);
    this.scheduleFlush();
  }

  /** The slot holding request `id`: its own slot, or (after a reload) a retired one; null if settled. */
  private owner(id: number): Slot | null {
    return this.holder(id, (slot) => slot.entries);
  }

  /** The slot whose `held(slot)` map has `id`: the id's own slot (id % threads), or after a
   *  reload a retired one. Requests, WebSockets and tunnels are all found this way. */
  private holder(id: number, held: (slot: Slot) => ReadonlyMap<number, unknown>): Slot | null {
    const slot = this.slots[id % this.slots.length];
    if (held(slot).has(id)) return slot;
    if (this.retiring.size > 0) for (const old of this.retiring) if (held(old).has(id)) return old;
    return null;
  }

  // --- WebSockets ----------------------------------------------------------------------------

  /** Who hears publishes from the Workers (the server's topic registry); set once by the server. */
  onPublish: PublishHandler | null = null;
  /** Subscribers per topic across the server, as last told (a respawned Worker is told them all). */
  private readonly topicCounts = new Map<string, number>();

  /** The 101 is written: WebSocket `id` (its upgrade request's id) is open; the app's open() runs. */
  openWebSocket(id: number, peer: WebSocketPeer): void {
    const slot = this.slots[id % this.slots.length];
    const home = slot.worker !== null ? slot : this.retiredHolding(id);
    if (home === null || home.worker === null) {
      // The Worker that upgraded it died meanwhile: nothing will run its handlers.
      queueMicrotask(() => peer.lost(1011, "the worker running the app died"));
      return;
    }
    home.sockets.set(id, peer);
    encodeWsOpen(home.outbox, id);
    this.scheduleFlush();
  }

  /** One whole message from the client (payload given away). */
  webSocketMessage(id: number, binary: boolean, payload: Uint8Array): void {
    const slot = this.socketOwner(id);
    if (slot === null) return;
    encodeWsMessage(slot.outbox, id, binary, payload);
    this.scheduleFlush();
  }

  /** A ping (opcode 9) or pong (10) from the client, for the app's ping/pong handlers. */
  webSocketControl(id: number, opcode: number, payload: Uint8Array): void {
    const slot = this.socketOwner(id);
    if (slot === null) return;
    if (opcode === 9) encodeWsPing(slot.outbox, id, payload);
    else encodeWsPong(slot.outbox, id, payload);
    this.scheduleFlush();
  }

  /** `bytes` of the app's sends on `id` reached the socket. */
  webSocketAck(id: number, bytes: number): void {
    const slot = this.socketOwner(id);
    if (slot === null) return;
    encodeWsAck(slot.outbox, id, bytes);
    this.scheduleFlush();
  }

  /** The WebSocket is over (the app's close() runs); also for an upgrade whose socket was gone. */
  webSocketClosed(id: number, code: number, reason: string): void {
    const slot = this.socketOwner(id) ?? this.slots[id % this.slots.length];
    const had = slot.sockets.delete(id);
    if (slot.worker === null) return;
    encodeWsClosed(slot.outbox, id, code, reason);
    this.scheduleFlush();
    if (had && this.drained(slot)) this.retire(slot);
  }

  /** A topic's subscriber count changed: every Worker learns it (batched with the turn's ops). */
  topicCount(topic: string, count: number): void {
    if (count === 0) this.topicCounts.delete(topic);
    else this.topicCounts.set(topic, count);
    for (const slot of this.slots) encodeWsTopicCount(slot.outbox, topic, count);
    for (const slot of this.retiring) encodeWsTopicCount(slot.outbox, topic, count);
    this.scheduleFlush();
  }

  private socketOwner(id: number): Slot | null {
    return this.holder(id, (slot) => slot.sockets);
  }

  private retiredHolding(id: number): Slot | null {
    for (const old of this.retiring) if (old.index === id % this.slots.length && old.worker !== null) return old;
    return null;
  }

  /** Closes the slot's WebSockets: its Worker is gone (1011) or the pool closes (1001). */
  private loseSockets(slot: Slot, code: number, reason: string): number {
    const peers = [...slot.sockets.values()];
    slot.sockets.clear();
    for (const peer of peers) {
      try {
        peer.lost(code, reason);
      } catch (error) {
        this.sinkFailed(error);
      }
    }
    return peers.length;
  }

  // --- Node-style tunnels ---------------------------------------------------------------------

  /** Bytes from the client of tunnel `id` (given away). */
  tunnelData(id: number, chunk: Uint8Array): void {
    const slot = this.tunnelOwner(id);
    if (slot === null) return;
    encodeTunnelData(slot.outbox, id, chunk);
    this.scheduleFlush();
  }

  /** The client of tunnel `id` ended its side. */
  tunnelEnd(id: number): void {
    const slot = this.tunnelOwner(id);
    if (slot === null) return;
    encodeTunnelEnd(slot.outbox, id);
    this.scheduleFlush();
  }

  /** `bytes` of the app's writes on tunnel `id` were handed to the socket. */
  tunnelAck(id: number, bytes: number): void {
    const slot = this.tunnelOwner(id);
    if (slot === null) return;
    encodeTunnelAck(slot.outbox, id, bytes);
    this.scheduleFlush();
  }

  /** Tunnel `id`'s connection is gone: the app's socket says 'end' and 'close'. */
  tunnelClosed(id: number): void {
    const slot = this.tunnelOwner(id);
    if (slot === null) return;
    slot.tunnels.delete(id);
    if (slot.worker !== null) {
      encodeTunnelClosed(slot.outbox, id);
      this.scheduleFlush();
    }
    if (this.drained(slot)) this.retire(slot);
  }

  private tunnelOwner(id: number): Slot | null {
    return this.holder(id, (slot) => slot.tunnels);
  }

  /** The Worker took request `id`'s socket for an 'upgrade' listener: the request is over, the
   *  connection is its tunnel from now on (unless the client already left). */
  private openTunnel(slot: Slot, id: number): void {
    const entry = this.take(slot, id);
    if (entry === null) return; // cancelled meanwhile: the Worker hears of it by the cancel
    const peer = entry.sink.tunnel();
    if (peer === null) {
      encodeTunnelClosed(slot.outbox, id);
      this.scheduleFlush();
      return;
    }
    slot.tunnels.set(id, peer);
  }

  /** Cuts the slot's tunnels: its Worker is gone, or the pool closes. */
  private loseTunnels(slot: Slot): number {
    const peers: TunnelPeer[] = [...slot.tunnels.values()];
    slot.tunnels.clear();
    for (const peer of peers) {
      try {
        peer.lost();
      } catch (error) {
        this.sinkFailed(error);
      }
    }
    return peers.length;
  }

  /** A retired slot with nothing left on it. */
  private drained(slot: Slot): boolean {
    return slot.retired && slot.inFlight === 0 && slot.sockets.size === 0 && slot.tunnels.size === 0 && this.retiring.has(slot);
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
    for (const slot of fresh) this.swapIn(slot, "reload");
    return null;
  }

  /** Puts a loaded fresh slot in its index's place; the old one is retired: it keeps its Worker
   *  and its requests, gets no new ones, and stops when the last one settles (reload, recycle). */
  private swapIn(slot: Slot, reason: "reload" | "max-requests"): void {
    const old = this.slots[slot.index];
    this.slots[slot.index] = slot;
    if (old.worker === null) {
      // No Worker (waiting to retry a failed respawn): its queued requests are the new one's.
      if (old.retryTimer !== null) clearTimeout(old.retryTimer);
      for (const [id, entry] of old.entries) slot.entries.set(id, entry);
      slot.inFlight = old.inFlight;
      slot.outbox = old.outbox;
      if (!slot.outbox.empty) this.scheduleFlush();
      return;
    }
    this.options.onWorkerRestart?.(reason);
    old.retired = true;
    this.retiring.add(old);
    if (old.inFlight === 0 && old.sockets.size === 0 && old.tunnels.size === 0) {
      this.retire(old);
      return;
    }
    old.drainTimer = setTimeout(() => {
      old.drainTimer = null;
      // Requests get RELOAD_DRAIN_MS; WebSockets and tunnels stay on the old code until they close
      // (the Worker stops with the last of them, or at shutdown).
      const failed = this.failAll(old, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, () => true);
      if (failed > 0) this.options.log(`worker ${old.index}: ${failed} request(s) still running on the replaced Worker after ${RELOAD_DRAIN_MS} ms were stopped`, "warning");
      if (this.drained(old)) this.retire(old);
    }, RELOAD_DRAIN_MS);
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

  /** Workers that have the app loaded and take requests (--admin-listen's /livez). */
  get loadedWorkers(): number {
    let n = 0;
    for (const slot of this.slots) if (slot.state === READY) n++;
    return n;
  }

  /** Requests in flight across all Workers. */
  get inFlight(): number {
    return this.total;
  }

  /** Waits for in-flight requests (at most graceMs), then terminates the Workers. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.stopWatchdog();
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
      this.loseSockets(slot, 1001, "the server is shutting down");
      this.loseTunnels(slot);
      if (slot.drainTimer !== null) clearTimeout(slot.drainTimer);
      this.stop(slot);
    }
    this.retiring.clear();
    for (const slot of [...this.fresh, ...this.recycled]) slot.onLoad?.("the server is shutting down");
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
    // The environment as the main thread has it now: Bun would otherwise give the Worker the one
    // the process started with, including what tray removed (systemd's LISTEN_FDS; systemd.ts).
    const worker = new Worker(workerURL(), { env: { ...process.env } as Record<string, string> });
    slot.worker = worker;
    slot.state = STARTING;
    slot.fatalReason = null;
    this.arm(slot, worker);
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
    worker.postMessage(encodeInit({ ...app, exposeTracebacks, highWatermark, appInterface }));
    // A replacement learns the topics' subscriber counts as they stand.
    for (const [topic, count] of this.topicCounts) encodeWsTopicCount(slot.outbox, topic, count);
    // Requests left queued by a Worker that died follow the init message.
    if (!slot.outbox.empty) this.scheduleFlush();
  }

  private receive(slot: Slot, message: Message): void {
    const f = messageFields(message);
    let i = 0;
    /** Streamed body bytes this message brought: taken into the sinks' buffers, so no longer in
     *  transit (the Worker's TRANSIT_MAX budget), whoever's they were. */
    let streamed = 0;
    while (i < f.length) {
      const op = decodeFromWorker(f, i, message);
      i = op.next;
      try {
        switch (op.op) {
          case OP_RESPONSE: {
            const entry = this.take(slot, op.id);
            if (entry === null) break;
            const body = op.body;
            const length = body === null ? 0 : body.byteLength;
            entry.sink.head(op.status, op.statusText, op.headers, length);
            if (body !== null && length > 0) entry.sink.data(body);
            entry.sink.end();
            break;
          }
          case OP_HEAD: {
            const entry = slot.entries.get(op.id);
            if (entry === undefined) break;
            entry.headed = true; // --request-timeout: the app answered in time
            entry.sink.head(op.status, op.statusText, op.headers, op.bodyLength);
            break;
          }
          case OP_DATA:
            streamed += op.chunk.byteLength;
            slot.entries.get(op.id)?.sink.data(op.chunk);
            break;
          case OP_END:
            this.take(slot, op.id)?.sink.end();
            break;
          case OP_ERROR: {
            const entry = this.take(slot, op.id);
            if (entry === null) break;
            if (op.logText !== "") this.options.log(`error while serving "${entry.requestLine}": ${op.logText}`, "error");
            entry.sink.error(op.status, op.body);
            break;
          }
          case OP_LOG:
            this.options.log(op.line, op.level);
            break;
          case OP_READY:
            if (this.loadNote === "") this.loadNote = op.note;
            this.loaded(slot, null);
            break;
          case OP_LOAD_FAILED:
            this.loaded(slot, op.reason);
            break;
          case OP_FATAL:
            slot.fatalReason = op.reason;
            break;
          case OP_WS_UPGRADE: {
            // The request is over; its id lives on as a WebSocket once the server opens it.
            const entry = this.take(slot, op.id);
            if (entry !== null) entry.sink.upgrade(op.headers, op.options);
            else {
              // The client left before the app upgraded: the Worker's waiting socket is closed.
              encodeWsClosed(slot.outbox, op.id, 1006, "");
              this.scheduleFlush();
            }
            break;
          }
          case OP_WS_SEND:
            slot.sockets.get(op.id)?.send(op.opcode, op.payload, op.compress);
            break;
          case OP_WS_CLOSE:
            slot.sockets.get(op.id)?.close(op.code, op.reason);
            break;
          case OP_WS_TERMINATE:
            slot.sockets.get(op.id)?.terminate();
            break;
          case OP_WS_SUBSCRIBE:
            slot.sockets.get(op.id)?.subscribe(op.topic);
            break;
          case OP_WS_UNSUBSCRIBE:
            slot.sockets.get(op.id)?.unsubscribe(op.topic);
            break;
          case OP_WS_PUBLISH:
            this.onPublish?.(op.topic, op.opcode, op.compress, op.excludeId, op.payload);
            break;
          case OP_WS_RECEIVED:
            slot.sockets.get(op.id)?.received(op.bytes);
            break;
          case OP_TUNNEL_OPEN:
            this.openTunnel(slot, op.id);
            break;
          case OP_TUNNEL_WRITE:
            slot.tunnels.get(op.id)?.write(op.chunk);
            break;
          case OP_TUNNEL_FINISH:
            slot.tunnels.get(op.id)?.finish();
            break;
          case OP_TUNNEL_DESTROY: {
            const peer = slot.tunnels.get(op.id);
            slot.tunnels.delete(op.id);
            peer?.destroy();
            break;
          }
          case OP_TUNNEL_RECEIVED:
            slot.tunnels.get(op.id)?.received(op.bytes);
            break;
        }
      } catch (error) {
        this.sinkFailed(error);
      }
    }
    if (streamed > 0 && slot.worker !== null) {
      encodeReceived(slot.outbox, streamed);
      this.scheduleFlush();
    }
  }

  /** Removes a request the Worker has finished (its last op arrived), keeping the counts right
   *  before the sink hears of it (a sink may dispatch the connection's next request from inside
   *  end()). The Worker closed the body's file before that op: the file may be reused. */
  private take(slot: Slot, id: number): PendingRequest | null {
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
    if (this.drained(slot)) this.retire(slot);
  }

  private sinkFailed(error: unknown): void {
    this.options.log(`bug: a response sink threw: ${error instanceof Error ? error.stack : String(error)}`, "error");
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
    this.options.log(`worker ${slot.index}: the replacement could not load the app: ${failure}; retrying in ${RESPAWN_RETRY_MS} ms`, "error");
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
    const sockets = this.loseSockets(slot, 1011, "the worker running the app died");
    if (sockets > 0) this.options.log(`worker ${slot.index}: ${sockets} WebSocket(s) on it closed with 1011`, "error");
    const tunnels = this.loseTunnels(slot);
    if (tunnels > 0) this.options.log(`worker ${slot.index}: ${tunnels} upgraded connection(s) ('upgrade' listener) on it closed`, "error");
    if (slot.retired) {
      // A replaced Worker is not replaced again: what it held fails, the new Worker serves on.
      const failed = this.failAll(slot, STATUS_APP_ERROR, body, () => true);
      this.options.log(`worker ${slot.index} (replaced by a reload) died (${reason}); ${failed} request(s) in flight on it failed`, "error");
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
      this.options.log(`worker ${slot.index} died (${reason}); ${failed} request(s) in flight on it failed; starting a replacement`, "error");
      this.options.onWorkerRestart?.("crash");
      // Acks and cancels queued for the dead Worker mean nothing to the new one; requests do.
      this.spawn(slot);
    } else {
      // A replacement that dies while loading would die again at once: pause between attempts.
      this.options.log(`worker ${slot.index}: the replacement died while loading the app (${reason}); retrying in ${RESPAWN_RETRY_MS} ms`, "error");
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

  // ---- Operations: the watchdog (--worker-timeout, --request-timeout, --worker-max-memory) and
  // recycling (--max-requests). One timer every HEARTBEAT_MS reads each Worker's heartbeat
  // (heartbeat.ts) and each request's dispatch time; nothing here runs per request but a counter.

  /** Gives a just-spawned Worker its heartbeat and its request budget. */
  private arm(slot: Slot, worker: Worker): void {
    const { workerTimeoutMs = 0, workerMaxMemoryMiB = 0, maxRequests = 0, maxRequestsJitter = 0 } = this.options;
    slot.heartbeat = null;
    if (workerTimeoutMs > 0 || workerMaxMemoryMiB > 0) {
      slot.heartbeat = new Heartbeat(this.now());
      // Before OP_INIT, so the Worker beats while it loads the app too (worker.ts).
      worker.postMessage(slot.heartbeat.buffer);
    }
    slot.served = 0;
    const random = this.options.random ?? Math.random;
    slot.serveLimit = maxRequests > 0 ? maxRequests + Math.floor(random() * (maxRequestsJitter + 1)) : 0;
  }

  private startWatchdog(): void {
    const { workerTimeoutMs = 0, requestTimeoutMs = 0, workerMaxMemoryMiB = 0 } = this.options;
    if (this.options.watchdogTimer === false || workerTimeoutMs + requestTimeoutMs + workerMaxMemoryMiB === 0) return;
    this.watchdog = setInterval(() => this.checkDeadlines(), HEARTBEAT_MS);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  /** One watchdog turn: replaces Workers that are stuck or past their memory limit, and answers
   *  503 to requests past --request-timeout. Public for tests that drive the clock. */
  checkDeadlines(): void {
    if (this.closed) return;
    const now = this.now();
    const memoryMiB = this.options.workerMaxMemoryMiB ?? 0;
    // Only read when a memory limit is set: the fallback for a Worker that allocates without yielding.
    const overMemory = memoryMiB > 0 && process.memoryUsage.rss() / (1024 * 1024) > memoryMiB * (this.slots.length + this.retiring.size) + MAIN_THREAD_ALLOWANCE_MIB;
    for (const slot of this.slots) this.checkSlot(slot, now, overMemory);
    if (this.retiring.size > 0) for (const slot of [...this.retiring]) this.checkSlot(slot, now, overMemory);
  }

  private checkSlot(slot: Slot, now: number, overMemory: boolean): void {
    const { workerTimeoutMs = 0, requestTimeoutMs = 0, workerMaxMemoryMiB = 0 } = this.options;
    const heartbeat = slot.heartbeat;
    if (heartbeat !== null && slot.worker !== null) {
      if (slot.state !== READY) heartbeat.reset(now); // loading the app may block: not judged here
      else {
        const silent = heartbeat.silentFor(now);
        if (workerTimeoutMs > 0 && silent >= workerTimeoutMs) {
          this.replaceWorker(slot, now, "timeout", `its event loop has not turned for ${seconds(silent)} (--worker-timeout=${workerTimeoutMs / 1000})`);
          return;
        }
        if (workerMaxMemoryMiB > 0 && heartbeat.heapMiB > workerMaxMemoryMiB) {
          this.replaceWorker(slot, now, "memory", `its JavaScript heap reached ${heartbeat.heapMiB} MiB (--worker-max-memory=${workerMaxMemoryMiB})`);
          return;
        }
        if (overMemory && silent >= MEMORY_SILENCE_MS) {
          this.replaceWorker(slot, now, "memory", `the process passed ${workerMaxMemoryMiB} MiB per Worker while this Worker's event loop was blocked (--worker-max-memory)`);
          return;
        }
      }
    }
    if (requestTimeoutMs > 0 && slot.entries.size > 0) this.failOverdue(slot, now, requestTimeoutMs);
  }

  /** --request-timeout: each request with no response head `limitMs` after dispatch gets 503,
   *  and its Worker a cancel (request.signal aborts; a Node-style req sees 'aborted', 'close'). */
  private failOverdue(slot: Slot, now: number, limitMs: number): void {
    for (const [id, entry] of slot.entries) {
      if (entry.headed || now - entry.dispatchedAt < limitMs) continue;
      this.cancel(id);
      this.options.log(`worker ${slot.index}: "${entry.requestLine}" got 503 after ${seconds(now - entry.dispatchedAt)} with no response (--request-timeout=${limitMs / 1000})`, "warning");
      try {
        entry.sink.error(STATUS_UNAVAILABLE, BODY_UNAVAILABLE);
      } catch (error) {
        this.sinkFailed(error);
      }
    }
  }

  /** Stops a Worker that is stuck or too big: each request it was sent gets 503 and a log line,
   *  requests still queued for it go to its replacement, which starts at once (as after a death). */
  private replaceWorker(slot: Slot, now: number, reason: "timeout" | "memory", why: string): void {
    const worker = slot.worker;
    this.detach(slot);
    worker?.terminate();
    const posted = slot.posted;
    const sent = (id: number) => slot.retired || id <= posted;
    for (const [id, entry] of slot.entries) {
      if (sent(id)) this.options.log(`worker ${slot.index}: "${entry.requestLine}" got 503 after ${seconds(now - entry.dispatchedAt)}: its Worker was replaced (${reason})`, "error");
    }
    const failed = this.failAll(slot, STATUS_UNAVAILABLE, BODY_UNAVAILABLE, sent);
    const sockets = this.loseSockets(slot, 1011, "the Worker was replaced") + this.loseTunnels(slot);
    this.options.log(`worker ${slot.index} replaced (${reason}): ${why}; ${failed} request(s) on it got 503${sockets > 0 ? `, ${sockets} upgraded connection(s) closed` : ""}`, "error");
    this.options.onWorkerRestart?.(reason);
    if (slot.retired) this.retire(slot);
    else this.spawn(slot);
  }

  /** --max-requests: counts a request given to the slot's Worker; at its budget, recycles it. */
  private countRequest(slot: Slot): void {
    if (++slot.served === slot.serveLimit) void this.recycle(slot);
  }

  /** Replaces one slot's Worker gracefully: a fresh Worker loads the app while the old one keeps
   *  serving; then the fresh one takes new requests and the old one finishes what it holds. */
  private async recycle(old: Slot): Promise<void> {
    if (this.closing || old.retired) return;
    const fresh = new Slot(old.index);
    this.recycled.add(fresh);
    const failure = await this.load([fresh]);
    this.recycled.delete(fresh);
    // A reload (or another recycle) may have replaced the old slot meanwhile: then this one is moot.
    if (failure !== null || this.closing || this.slots[old.index] !== old) {
      this.stop(fresh);
      if (failure !== null && !this.closing) {
        old.serveLimit = old.served + (this.options.maxRequests ?? 0);
        this.options.log(`worker ${old.index}: its replacement could not load the app, so it serves on: ${failure}`, "error");
      }
      return;
    }
    this.flush(); // requests queued for the old Worker go to it
    this.swapIn(fresh, "max-requests");
    this.options.log(`worker ${old.index} replaced (max-requests): it was given ${old.served} requests (--max-requests=${this.options.maxRequests})`, "info");
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

/** "12.3 s", for log lines. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
