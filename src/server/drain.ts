// --drain-delay: the first phase of SIGTERM. A load balancer or Kubernetes keeps sending requests
// for a while after it decides to stop (its readiness probe must fail first, its endpoints must
// update), so tray goes on serving new and keep-alive requests, listeners open, for the delay,
// and only then shuts down as serve.ts stop() always did.
//
// Strategy: one small state object owned by serve(). `draining` turns true the moment SIGTERM
// arrives and listeners registered with onDraining() hear it at once — the admin listener's
// /readyz answers 503 from then on (wired by the lead in serve.ts). A second SIGTERM during the
// delay, or SIGINT, skips the rest of it.
import type { Log } from "./log.ts";

export class Drain {
  private readonly delayMs: number;
  private readonly log: Log;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners: Array<() => void> = [];
  /** True from the first SIGTERM on: the server is going away, readiness probes should fail. */
  draining = false;

  constructor(delaySeconds: number, log: Log) {
    this.delayMs = delaySeconds * 1000;
    this.log = log;
  }

  /** `listener` runs once, when draining starts (at once if it has). */
  onDraining(listener: () => void): void {
    if (this.draining) listener();
    else this.listeners.push(listener);
  }

  /** SIGTERM: start draining and call `shutDown` after the delay; with no delay, or when already
   *  draining (a second SIGTERM), call it now. */
  begin(signal: string, shutDown: () => void): void {
    const again = this.draining;
    this.setDraining();
    if (this.delayMs === 0 || again) {
      this.end();
      shutDown();
      return;
    }
    this.log(`Received ${signal}, draining: serving on for ${this.delayMs / 1000}s (--drain-delay), then shutting down`, "info");
    this.timer = setTimeout(() => {
      this.timer = null;
      shutDown();
    }, this.delayMs);
  }

  /** Shutdown has started some other way (SIGINT): the delay no longer applies. */
  end(): void {
    this.setDraining();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private setDraining(): void {
    if (this.draining) return;
    this.draining = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}
