// Which tray is measured. The repository's working tree may hold someone's uncommitted, half-done
// change, so a run can instead build tray from the last commit: HEAD is exported (git archive)
// into the run's scratch directory, node_modules is linked in, and scripts/build.ts builds it
// there. "worktree" builds the working tree (what a developer benchmarking their change wants);
// "prebuilt" takes dist/tray as it is.
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";

export type TraySource = "worktree" | "head" | "prebuilt";

async function run(argv: string[], cwd: string): Promise<string> {
  const proc = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed: ${(err || out).trim().split("\n").slice(-2).join(" | ")}`);
  return out.trim();
}

/** The short commit id of HEAD. */
export function headCommit(root: string): Promise<string> {
  return run(["git", "rev-parse", "--short", "HEAD"], root);
}

/** Exports HEAD's tree into dir (with the project's node_modules linked) and returns dir. */
export async function exportHead(root: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await run(["sh", "-c", `git -C "$1" archive --format=tar HEAD | tar -x -C "$2"`, "sh", root, dir], root);
  if (!existsSync(join(dir, "node_modules"))) symlinkSync(join(root, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** Builds dist/tray in root (a checkout or an export) with the project's own build script. */
export async function buildTray(root: string, bun: string): Promise<string> {
  await run([bun, "scripts/build.ts"], root);
  return join(root, "dist/tray");
}
