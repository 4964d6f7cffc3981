// Where the Worker entry file is, from source and inside a `bun build --compile` binary.
//
// From source (bun run, bun test) it is worker.ts beside this file. In a compiled binary every
// entrypoint is stored under the binary's virtual root (/$bunfs/root, B:\~BUN\root on Windows) at
// its path relative to the entrypoints' common directory, renamed .js — src/pool/worker.ts becomes
// <root>/pool/worker.js — while import.meta.url here is the MAIN entrypoint's URL (<root>/tray), so
// the "./worker.ts" that is right from source names a file that does not exist. Measured with
// Bun 1.4.5; Bun's docs say it may bundle `new Worker(new URL(...))` paths itself one day, so the
// source form is tried first in both cases.
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

let cached: URL | null = null;

export function workerURL(): URL {
  if (cached !== null) return cached;
  const beside = new URL("./worker.ts", import.meta.url);
  if (existsSync(fileURLToPath(beside))) return (cached = beside);
  // Compiled: find the entry in the binary's own file tree (the embedded build outputs only).
  const root = new URL(".", import.meta.url);
  const names = readdirSync(fileURLToPath(root), { recursive: true }).map((name) => String(name).replaceAll("\\", "/"));
  const found = names.find((name) => name === "pool/worker.js") ?? names.find((name) => name.endsWith("/pool/worker.js"));
  if (found === undefined) {
    throw new Error(`bug: this build has no Worker entry (scripts/build.ts must list src/pool/worker.ts); looked in ${fileURLToPath(root)}`);
  }
  return (cached = new URL(found, root));
}
