// Installs a missing Debian package the benchmark needs (wrk, python3-waitress) when running as
// root with apt-get, as a fresh machine needs; otherwise says what to install. Runs apt-get update
// only if the first install attempt fails (stale or absent package lists).
async function run(argv: string[]): Promise<boolean> {
  try {
    const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    return (await proc.exited) === 0;
  } catch {
    return false;
  }
}

/** Resolves true when `present()` holds, installing `pkg` first if needed and possible. */
export async function ensureAptPackage(pkg: string, present: () => Promise<boolean>, log: (line: string) => void): Promise<boolean> {
  if (await present()) return true;
  if (process.getuid?.() !== 0 || Bun.which("apt-get") === null) return false;
  log(`installing ${pkg} with apt-get ...`);
  if (!(await run(["apt-get", "install", "-y", "-q", pkg]))) {
    await run(["apt-get", "update", "-q"]);
    await run(["apt-get", "install", "-y", "-q", pkg]);
  }
  return present();
}
