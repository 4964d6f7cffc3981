// The foreign-platform tools the release test runs binaries with, installed from Debian when
// missing: qemu-user (an arm64 CPU) with Debian's arm64 glibc (libc6-arm64-cross), and Debian's
// musl loader. Installing is attempted only as root with apt-get present, and every apt step is
// bounded, so a slow or unreachable mirror makes the test skip, never hang. CI should install
// these up front (RELEASE_TEST_APT_PACKAGES) so the test itself does not spend time on apt.
import { existsSync } from "node:fs";

export const RELEASE_TEST_APT_PACKAGES = ["qemu-user-static", "libc6-arm64-cross", "musl", "file"];
export const QEMU_AARCH64 = "qemu-aarch64-static";
/** Where libc6-arm64-cross puts the arm64 loader and libc: qemu's -L prefix. */
export const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";
const AARCH64_LOADER = `${AARCH64_SYSROOT}/lib/ld-linux-aarch64.so.1`;
/** The PT_INTERP of bun's linux-x64-musl runtime, which Debian's musl package installs. */
export const MUSL_X64_LOADER = "/lib/ld-musl-x86_64.so.1";
/** All apt-get work together stays within this, whatever the mirror does. */
const APT_BUDGET_MS = 300_000;

export interface ReleaseTools {
  /** Path of qemu-aarch64-static with an arm64 sysroot beside it, or null and why. */
  qemuAarch64: string | null;
  muslLoader: string | null;
  /** `file`(1), for a second opinion on the executable format. */
  file: string | null;
  /** What is missing for each, for the skip messages. */
  qemuMissing: string[];
  muslMissing: string[];
}

async function bounded(cmd: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  try {
    const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { ok: code === 0, output: (out + err).trim().split("\n").slice(-2).join(" ") };
  } catch (error) {
    return { ok: false, output: String(error) };
  }
}

function present(): ReleaseTools {
  const qemuMissing: string[] = [];
  const qemu = Bun.which(QEMU_AARCH64);
  if (!qemu) qemuMissing.push(`${QEMU_AARCH64} (Debian qemu-user-static)`);
  if (!existsSync(AARCH64_LOADER)) qemuMissing.push(`${AARCH64_LOADER} (Debian libc6-arm64-cross)`);
  const musl = existsSync(MUSL_X64_LOADER) ? MUSL_X64_LOADER : null;
  const muslMissing = musl ? [] : [`${MUSL_X64_LOADER} (Debian musl)`];
  return { qemuAarch64: qemuMissing.length === 0 ? qemu : null, muslLoader: musl, file: Bun.which("file"), qemuMissing, muslMissing };
}

/** What is there, after one bounded attempt to apt-get install what is not. */
export async function ensureReleaseTools(log: (line: string) => void): Promise<ReleaseTools> {
  const before = present();
  if (before.qemuMissing.length === 0 && before.muslMissing.length === 0 && before.file) return before;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get")) return before;
  log(`release test: installing ${RELEASE_TEST_APT_PACKAGES.join(" ")} with apt-get (at most ${APT_BUDGET_MS / 1000}s)`);
  const deadline = Date.now() + APT_BUDGET_MS;
  const remaining = () => Math.max(0, deadline - Date.now());
  const install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=60", ...RELEASE_TEST_APT_PACKAGES];
  let result = await bounded(install, remaining());
  if (!result.ok && remaining() > 0) {
    // A fresh machine has no package lists yet; update once and retry.
    await bounded(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=60"], remaining());
    result = await bounded(install, remaining());
  }
  if (!result.ok) log(`release test: apt-get install failed: ${result.output}`);
  return present();
}
