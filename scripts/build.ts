// Builds dist/tray for this machine with `bun build --compile`.
// Flags are DESIGN.md §3's: user apps must find their own package.json and tsconfig paths at run
// time, and a stray bunfig.toml must never inject a preload into a production server.
// dotenv: OFF. A server that silently loads whatever .env sits in its cwd surprises operators
// (Waitress reads no .env); set the environment explicitly (systemd EnvironmentFile, docker -e).
import { $ } from "bun";

export const ENTRYPOINTS = ["src/cli.ts", "src/pool/worker.ts"];

export const COMPILE_FLAGS = [
  "--compile",
  "--compile-autoload-package-json",
  "--compile-autoload-tsconfig",
  "--no-compile-autoload-bunfig",
  "--no-compile-autoload-dotenv",
];

export async function build(outfile: string, extra: string[] = []): Promise<void> {
  await $`bun build ${COMPILE_FLAGS} ${extra} ${ENTRYPOINTS} --outfile ${outfile}`.quiet();
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname;
  process.chdir(root);
  await build("dist/tray");
  console.log("built dist/tray");
}
