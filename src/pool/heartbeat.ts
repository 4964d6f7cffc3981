// The Worker heartbeat: how the main thread tells a Worker whose event loop is stuck (a handler
// looping or blocking: --worker-timeout) or whose heap has grown past --worker-max-memory, without
// asking it anything — a stuck Worker could not answer.
//
// Strategy: each Worker gets a small SharedArrayBuffer (posted to it before OP_INIT, so no message
// op is needed). A timer in the Worker bumps BEAT every HEARTBEAT_MS and stores its heap size in
// HEAP_MIB; a timer turning proves the event loop turns. The main thread only reads the words on
// its own timer (pool.ts watchdog), so neither side ever waits on the other. Bun's Workers take no
// heap limit (resourceLimits is accepted and ignored by Bun 1.4.5; measured), hence the report.

/** How often a Worker beats; the main thread checks as often. */
export const HEARTBEAT_MS = 250;

/** Int32 word indexes in the shared buffer. */
const BEAT = 0;
const HEAP_MIB = 1;
const WORDS = 2;

/** The main thread's side: one per Worker. */
export class Heartbeat {
  readonly buffer = new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT);
  private readonly words = new Int32Array(this.buffer);
  private last = 0;
  /** When (by the pool's clock) the beat last moved. */
  private movedAt: number;

  constructor(now: number) {
    this.movedAt = now;
  }

  /** Milliseconds since the Worker's event loop last turned, as of `now`. */
  silentFor(now: number): number {
    const beat = Atomics.load(this.words, BEAT);
    if (beat !== this.last) {
      this.last = beat;
      this.movedAt = now;
    }
    return now - this.movedAt;
  }

  /** Restarts the count (the Worker was not expected to beat meanwhile: it was loading the app). */
  reset(now: number): void {
    this.last = Atomics.load(this.words, BEAT);
    this.movedAt = now;
  }

  /** The Worker's JavaScript heap at its last beat, in MiB. */
  get heapMiB(): number {
    return Atomics.load(this.words, HEAP_MIB);
  }
}

/** The Worker's side: beat from a timer for as long as the Worker lives. */
export function startBeating(buffer: SharedArrayBuffer): void {
  const words = new Int32Array(buffer);
  const beat = (): void => {
    Atomics.add(words, BEAT, 1);
    // heapUsed is this Worker's own JSC heap (measured: another Worker's allocations do not show).
    Atomics.store(words, HEAP_MIB, Math.ceil(process.memoryUsage().heapUsed / (1024 * 1024)));
  };
  beat();
  setInterval(beat, HEARTBEAT_MS);
}
