// --reload, for development: when a file under the app's directory changes, the Worker pool loads
// the app again in fresh Workers (WorkerPool.reload()); the listening sockets, the open
// connections and the requests already running are untouched.
//
// Strategy: the app's directory is the one holding the MODULE file (the current directory when
// MODULE is a package from node_modules). It is watched with fs.watch: the directory itself
// non-recursively, each subdirectory recursively, so node_modules and dot-directories (.git) cost
// no watches at all; changes under them, dot-files, and the paths tray itself writes (an access
// log) are ignored anyway. Changes are debounced (an editor's save is several events; a branch
// switch is hundreds) and reloads never overlap: changes seen during a reload cause one more.
// A reload that fails to load (a syntax error being typed) is logged, and the previous code
// keeps serving until the next change.

import { existsSync, readdirSync, statSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { resolveModule } from "../app/resolve.ts";
import type { AppSpec } from "../app/types.ts";
import type { Log } from "./log.ts";

/** Quiet time after the last change before reloading. */
export const RELOAD_DEBOUNCE_MS = 150;

/** Changed files named in the "Reloading" line; more are counted. */
const NAMED_CHANGES_MAX = 3;

/** What reload needs of the Worker pool: null when the new code serves, else why not. */
export interface Reloadable {
  reload(): Promise<string | null>;
}

export interface ReloadWatcher {
  close(): void;
}

/** The directory --reload watches: the MODULE file's, or the cwd's for a package in node_modules. */
export function appDirectory(spec: AppSpec): string {
  let file: string;
  try {
    file = resolveModule(spec.module, spec.cwd);
  } catch {
    return spec.cwd; // the Workers loaded it, so this is a race with its deletion: watch the cwd
  }
  return isIgnored(relative(spec.cwd, file)) ? spec.cwd : dirname(file);
}

/** True for a path (relative to the watched directory) under node_modules or a dot-entry. */
export function isIgnored(relativePath: string): boolean {
  for (const part of relativePath.split(/[\\/]/)) {
    if (part === "node_modules" || part.startsWith(".")) return true;
  }
  return false;
}

/**
 * Watches `dir` and calls `onChange` with the changed paths (relative to `dir`) once changes
 * have been quiet for RELOAD_DEBOUNCE_MS. `ignore` holds absolute paths never to react to.
 */
export function watchDirectory(dir: string, ignore: ReadonlySet<string>, onChange: (files: string[]) => void, log: Log): ReloadWatcher {
  const watchers = new Map<string, FSWatcher>();
  const changed = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  let warned = false;

  const note = (relativePath: string) => {
    if (closed || relativePath === "" || isIgnored(relativePath) || ignore.has(join(dir, relativePath))) return;
    changed.add(relativePath);
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const files = [...changed];
      changed.clear();
      onChange(files);
    }, RELOAD_DEBOUNCE_MS);
  };

  const add = (path: string, recursive: boolean) => {
    if (watchers.has(path)) return;
    try {
      const prefix = path === dir ? "" : relative(dir, path) + sep;
      const w = watch(path, { recursive }, (_event, name) => {
        if (name === null) return;
        const rel = prefix + String(name);
        note(rel);
        // A new top-level directory gets its own recursive watch.
        if (!recursive && !isIgnored(rel)) {
          const full = join(dir, rel);
          if (isDirectory(full)) add(full, true);
        }
      });
      w.on("error", (error: Error) => failed(path, error));
      watchers.set(path, w);
    } catch (error) {
      failed(path, error as Error);
    }
  };

  const failed = (path: string, error: Error) => {
    watchers.get(path)?.close();
    watchers.delete(path);
    if (warned) return;
    warned = true;
    // ENOSPC here is the inotify watch limit (fs.inotify.max_user_watches), not a full disk.
    log(`tray: warning: --reload cannot watch ${path} (${(error as NodeJS.ErrnoException).code ?? error.message}); changes there will not reload the app`, "warning");
  };

  add(dir, false);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && !isIgnored(entry.name)) add(join(dir, entry.name), true);
  }

  return {
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

function isDirectory(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Starts --reload: watches the app's directory and reloads `pool` on changes, logging each. */
export function startReloading(spec: AppSpec, pool: Reloadable, log: Log, ignore: string[] = []): ReloadWatcher {
  const dir = appDirectory(spec);
  let running = false;
  let pending: string[] | null = null;

  const reload = async (files: string[]): Promise<void> => {
    if (running) {
      pending = [...(pending ?? []), ...files];
      return;
    }
    running = true;
    const named = files.slice(0, NAMED_CHANGES_MAX).join(", ") + (files.length > NAMED_CHANGES_MAX ? ` and ${files.length - NAMED_CHANGES_MAX} more` : "");
    log(`Reloading: ${named} changed`, "info");
    const started = Date.now();
    const failure = await pool.reload();
    if (failure === null) log(`Reloaded the app in ${Date.now() - started} ms`, "info");
    else log(`Reload failed, the previous code keeps serving: ${failure}`, "error");
    running = false;
    if (pending !== null) {
      const next = [...new Set(pending)];
      pending = null;
      void reload(next);
    }
  };

  const watcher = watchDirectory(dir, new Set(ignore.map((p) => resolve(p))), (files) => void reload(files), log);
  log(`Reloading on changes under ${dir}`, "info");
  return watcher;
}
