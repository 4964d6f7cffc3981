// SIGHUP: a zero-downtime reload of the app, for deployments (the --reload file watcher is the
// development twin; both use WorkerPool.reload()). Fresh Workers load the app's current code while
// the old ones serve; once all have loaded they take the new requests, and the old ones finish
// what they hold and exit. A version that fails to load is logged and the old one serves on.
//
// Strategy: reloads never overlap; SIGHUPs that arrive during a reload cause exactly one more
// after it (the code may have changed again since the running reload read it).
import { notifyReady, notifyReloading } from "./systemd.ts";
import type { Reloadable } from "./reload.ts";
import type { Log } from "./log.ts";

export interface HangupReload {
  /** The SIGHUP handler. */
  onSignal(): void;
  /** Shutdown started: later SIGHUPs are ignored. */
  close(): void;
}

export function reloadOnHangup(pool: Reloadable, log: Log): HangupReload {
  let running = false;
  let pending = false;
  let closed = false;

  const reload = async (): Promise<void> => {
    running = true;
    log("Received SIGHUP, reloading the app", "info");
    notifyReloading(); // sd_notify RELOADING=1, when systemd asked for notifications
    const started = Date.now();
    const failure = await pool.reload();
    if (failure === null) log(`Reloaded the app in ${Date.now() - started} ms`, "info");
    else log(`Reload failed, the previous code keeps serving: ${failure}`, "error");
    notifyReady(); // whether or not the reload succeeded: the old code serves on if it failed
    running = false;
    if (pending && !closed) {
      pending = false;
      void reload();
    }
  };

  return {
    onSignal() {
      if (closed) {
        log("Received SIGHUP while shutting down: not reloading", "info");
        return;
      }
      if (running) pending = true;
      else void reload();
    },
    close() {
      closed = true;
    },
  };
}
