// Installs the real frameworks the framework e2e tests serve (test/fixtures/e2e/frameworks):
// their node_modules is never committed, so the first run installs it from package-lock.json with
// `npm ci`, bounded in time. When npm or the registry cannot be had, the tests skip and say why.
// A later run finds every pinned package in place and installs nothing.

import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, startTray } from "./harness.ts";
import type { Tray } from "./harness.ts";

export const FRAMEWORKS_DIR = join(FIXTURES, "frameworks");

/** npm ci of ~20 small packages takes seconds; past this the registry is taken as unreachable. */
export const INSTALL_TIMEOUT_MS = 180_000;

export type InstallResult = { ok: true; installed: boolean } | { ok: false; reason: string };

/** True when every dependency in package.json is installed at exactly its pinned version
 *  ("npm:express@5.3.0" aliases included). */
function installed(dir: string): boolean {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  for (const [name, spec] of Object.entries(manifest.dependencies)) {
    const path = join(dir, "node_modules", name, "package.json");
    if (!existsSync(path)) return false;
    const version = spec.startsWith("npm:") ? spec.slice(spec.lastIndexOf("@") + 1) : spec;
    if ((JSON.parse(readFileSync(path, "utf8")) as { version: string }).version !== version) return false;
  }
  return true;
}

function run(command: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    let output = "";
    let timedOut = false;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    } catch (error) {
      resolve({ code: null, output: String(error), timedOut });
      return;
    }
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: output + String(error), timedOut });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

/** npm's error code and reason lines (ECONNREFUSED, ETIMEDOUT, E404...), not its advice. */
function npmErrorSummary(output: string): string {
  const lines = output.trim().split("\n").map((l) => l.replace(/^npm (error|ERR!) /, "").trim());
  const telling = lines.filter((l) => /^(code|errno) |FetchError|reason:|\b404\b/.test(l)).slice(0, 3);
  return (telling.length > 0 ? telling : lines.slice(-1)).join("; ");
}

/** Makes sure a fixture project's node_modules matches its package-lock.json (the frameworks'
 *  by default; the Node-style apps' project uses it too). */
export async function ensureFrameworks(dir = FRAMEWORKS_DIR): Promise<InstallResult> {
  if (installed(dir)) return { ok: true, installed: false };
  // Few, short retries: an unreachable registry should cost seconds, not npm's default minutes.
  const args = ["ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000", "--fetch-timeout=60000"];
  const result = await run("npm", args, dir, INSTALL_TIMEOUT_MS);
  if (result.code === 0 && installed(dir)) return { ok: true, installed: true };
  const why = result.timedOut
    ? `npm ci did not finish within ${INSTALL_TIMEOUT_MS / 1000} s`
    : result.code === null
      ? `npm could not be run (${result.output.trim().split("\n").pop()})`
      : `npm ci exited ${result.code}: ${npmErrorSummary(result.output)}`;
  return { ok: false, reason: `${why}; run \`npm ci\` in ${dir} by hand (it needs the npm registry)` };
}

/** One tray per app in the frameworks fixture (--threads=2), started side by side. */
export async function startFrameworkTrays<A extends string>(apps: readonly A[]): Promise<Map<A, Tray>> {
  const started = await Promise.all(apps.map((app) => startTray(["--threads=2", app], { cwd: FRAMEWORKS_DIR, timeoutMs: 60_000 })));
  return new Map(apps.map((app, i) => [app, started[i]]));
}
