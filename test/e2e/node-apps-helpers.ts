// Shared by the Node-style app e2e tests: the fixture project (test/fixtures/e2e/node) with real
// Express 4, Express 5 (npm alias "express5"), Koa and Connect from npm. Its node_modules is never
// committed: the first run installs it from package-lock.json with `npm ci --prefix`, bounded in
// time; when npm or the registry cannot be had, the tests skip and say why.
import { join } from "node:path";
import { ensureFrameworks } from "./frameworks-helpers.ts";
import { FIXTURES, rawConnect } from "./harness.ts";

export const NODE_DIR = join(FIXTURES, "node");

/** Installs the fixture project when needed; null when ready, else why it could not be. */
export async function ensureNodeFixture(): Promise<string | null> {
  const result = await ensureFrameworks(NODE_DIR);
  return result.ok ? null : result.reason;
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

/** Polls `get` until `ok` holds for its value (bounded at 15 s): the app's own state, read over HTTP. */
export async function waitFor<T>(get: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await Bun.sleep(25);
  }
}
