// The container image recipe (scripts/container/, docs/deploying-on-kubernetes.md) built for real
// with podman from dist/tray: a FROM scratch image whose filesystem holds the binary, every shared
// library ldd names, a world-writable /tmp and /app, with tray as the exec-form entrypoint and a
// non-root user. Containers cannot run on these machines, so the image is inspected and exported
// (podman create + podman export | tar -t), never run. Skips with a message when podman is missing
// or cannot build here; bounded by BUILD_BUDGET_MS.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT, TRAY } from "./harness.ts";

const BUILD_BUDGET_MS = 120_000;
const TAG = `localhost/tray-test-${process.pid}:latest`;
const SCRIPT = join(ROOT, "scripts", "container", "build-image.sh");

function run(command: string, args: string[], timeoutMs = 30_000): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  return { ok: r.status === 0, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

const havePodman = run("podman", ["--version"]).ok;
let built: { ok: boolean; stdout: string; stderr: string } = { ok: false, stdout: "", stderr: "" };
if (havePodman) built = run(SCRIPT, [TRAY, TAG], BUILD_BUDGET_MS);
const skip = !havePodman || !built.ok;
if (!havePodman) console.log("container test: skipped, podman is not installed (apt-get install podman)");
else if (!built.ok) console.log(`container test: skipped, podman build cannot run here: ${built.stderr.trim().split("\n").at(-1)}`);

afterAll(() => {
  if (havePodman) run("podman", ["rmi", "--force", TAG]);
});

/** The libraries the binary links, as absolute paths (what the image must hold). */
function linkedLibraries(): string[] {
  const out = run("ldd", [TRAY]).stdout;
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

describe.skipIf(skip)("the container image", () => {
  test("entrypoint is tray in exec form, a non-root user, /app as working directory", () => {
    const inspect = run("podman", ["image", "inspect", TAG, "--format", "{{json .Config}}"]);
    expect(inspect.ok).toBe(true);
    const config = JSON.parse(inspect.stdout) as { Entrypoint: string[]; User: string; WorkingDir: string; Env: string[] };
    expect(config.Entrypoint).toEqual(["/usr/local/bin/tray"]);
    expect(config.User).toBe("65532:65532");
    expect(config.WorkingDir).toBe("/app");
    expect(config.Env).toContain("TMPDIR=/tmp");
  });

  test("the filesystem is the binary, its shared libraries, /tmp (1777) and /app, nothing else", () => {
    const created = run("podman", ["create", TAG]);
    expect(created.ok).toBe(true);
    const id = created.stdout.trim();
    try {
      const listing = spawnSync("sh", ["-c", `podman export ${id} | tar -tv`], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
      expect(listing.status).toBe(0);
      const lines = listing.stdout.split("\n").filter((l) => l !== "");
      const files = lines.filter((l) => !l.startsWith("d")).map((l) => "/" + l.split(/\s+/).at(-1)!);
      const libs = linkedLibraries();
      expect(libs.length).toBeGreaterThan(0);
      expect(files.sort()).toEqual(["/usr/local/bin/tray", ...libs].sort());
      expect(lines.find((l) => l.endsWith(" tmp/"))?.startsWith("drwxrwxrwt")).toBe(true);
      expect(lines.some((l) => l.endsWith(" app/"))).toBe(true);
    } finally {
      run("podman", ["rm", id]);
    }
  });
});
