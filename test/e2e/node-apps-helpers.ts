// Shared by the Node-style app e2e tests: the fixture project (test/fixtures/e2e/node) with real
// Express 4, Express 5 (npm alias "express5"), Koa and Connect from npm. Its node_modules is never
// committed: the first run installs it from package-lock.json with `npm ci --prefix`, bounded in
// time; when npm or the registry cannot be had, the tests skip and say why.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FIXTURES, rawConnect } from "./harness.ts";

export const NODE_DIR = join(FIXTURES, "node");

/** npm ci of ~120 small packages takes seconds; past this the registry is taken as unreachable. */
const INSTALL_TIMEOUT_MS = 180_000;

/** Every dependency installed at its pinned version ("npm:express@5.3.0" aliases included). */
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

/** Installs the fixture project when needed; null when ready, else why it could not be. */
export async function ensureNodeFixture(): Promise<string | null> {
  if (installed(NODE_DIR)) return null;
  // Few, short retries: an unreachable registry should cost seconds, not npm's default minutes.
  const args = ["ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000", "--fetch-timeout=60000"];
  const result = await new Promise<{ code: number | null; output: string; timedOut: boolean }>((resolve) => {
    let output = "";
    let timedOut = false;
    const child = spawn("npm", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, INSTALL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: output + String(error), timedOut });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
  if (result.code === 0 && installed(NODE_DIR)) return null;
  const last = result.output.trim().split("\n").filter((l) => /code |errno |reason|ERR|error/.test(l)).slice(0, 3).join("; ");
  const why = result.timedOut ? `npm ci did not finish within ${INSTALL_TIMEOUT_MS / 1000} s` : `npm ci exited ${result.code}: ${last || "no output"}`;
  return `${why}; run \`npm ci --prefix ${NODE_DIR}\` by hand (it needs the npm registry)`;
}

/** The environment tray runs with in these tests (plus extra variables for the fixtures). */
export function trayEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...extra };
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return rawConnect(port).then(
    (socket) => {
      socket.destroy();
      return true;
    },
    () => false,
  );
}
