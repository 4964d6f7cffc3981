// Builds the release binaries: dist/release/tray-<os>-<arch>[-musl][.exe] for every platform in
// RELEASE_TARGETS, and dist/release/SHA256SUMS (the format `sha256sum -c` reads).
//
// Strategy: cross-compiling with `bun build --compile --target=bun-<os>-<arch>` needs the Bun
// runtime of that platform, which bun would fetch on its own into a cache outside the project.
// We fetch it ourselves, from the same npm packages the `bun` devDependency installs from
// (`@oven/bun-<platform>`, see node_modules/bun/package.json optionalDependencies), with
// `npm pack` at exactly the devDependency's version: npm checks the tarball against the
// registry's integrity hash, it uses the npm registry the project already depends on, and the
// extracted runtimes are kept in dist/.bun-runtimes/ so a rebuild needs no network. Each binary
// is then built by scripts/build.ts's build() (the same flags and entrypoints as dist/tray) with
// `--compile-executable-path=<that runtime>`. `--target` is still passed: without it bun
// assumes the host platform, so a linux-arm64 binary comes out with `process.arch` inlined as
// "x64", and a darwin or windows runtime is refused ("Error initializing ELF file"). Every output is then checked to be the executable format, CPU and
// C library its name promises, so a wrong flag cannot ship a binary that only fails on a user's
// machine.
//
// Usage: bun scripts/release.ts [--out=DIR] [TARGET...]   (no TARGET: all of them)
import { mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { $ } from "bun";
import packageJson from "../package.json" with { type: "json" };
import { build } from "./build.ts";

export type ExecutableFormat = "elf" | "macho" | "pe";
export type Cpu = "x64" | "arm64";

export interface ReleaseTarget {
  /** The file-name part: tray-<name>[.exe]. */
  name: string;
  /** bun build --target value. */
  bunTarget: string;
  /** The npm package holding that platform's Bun runtime. */
  runtimePackage: string;
  /** The runtime's path inside the package tarball. */
  runtimeEntry: string;
  format: ExecutableFormat;
  cpu: Cpu;
  /** Linux only: which C library's dynamic loader the binary asks for. */
  libc: "glibc" | "musl" | null;
  suffix: "" | ".exe";
}

function target(name: string, npmPlatform: string, format: ExecutableFormat, cpu: Cpu, libc: ReleaseTarget["libc"]): ReleaseTarget {
  const windows = format === "pe";
  return {
    name,
    bunTarget: `bun-${name}`,
    runtimePackage: `@oven/bun-${npmPlatform}`,
    runtimeEntry: windows ? "package/bin/bun.exe" : "package/bin/bun",
    format,
    cpu,
    libc,
    suffix: windows ? ".exe" : "",
  };
}

/** Every platform a release ships for (DESIGN.md §3). npm names arm64 "aarch64". */
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  target("linux-x64", "linux-x64", "elf", "x64", "glibc"),
  target("linux-arm64", "linux-aarch64", "elf", "arm64", "glibc"),
  target("linux-x64-musl", "linux-x64-musl", "elf", "x64", "musl"),
  target("linux-arm64-musl", "linux-aarch64-musl", "elf", "arm64", "musl"),
  target("darwin-x64", "darwin-x64", "macho", "x64", null),
  target("darwin-arm64", "darwin-aarch64", "macho", "arm64", null),
  target("windows-x64", "windows-x64", "pe", "x64", null),
];

export const RELEASE_DIR = "dist/release";
export const RUNTIME_CACHE_DIR = "dist/.bun-runtimes";
export const CHECKSUMS_FILE = "SHA256SUMS";
/** Bounds on the external commands a release runs (a hung registry must not hang the build). */
export const NPM_PACK_TIMEOUT_MS = 300_000;
export const EXTRACT_TIMEOUT_MS = 120_000;
/** Compiles run two at a time: each is mostly writing a ~100 MB file, and the machine has 2 cores. */
export const COMPILE_CONCURRENCY = 2;
/** Exit status of this script when a runtime could not be fetched (tests skip on it, not fail). */
export const EXIT_RUNTIME_UNAVAILABLE = 3;

/** The runtime could not be fetched (registry unreachable, npm missing): an environment problem, not a bug. */
export class RuntimeUnavailableError extends Error {
  override name = "RuntimeUnavailableError";
}

export function releaseFileName(t: ReleaseTarget): string {
  return `tray-${t.name}${t.suffix}`;
}

export function findTarget(name: string): ReleaseTarget {
  const found = RELEASE_TARGETS.find((t) => t.name === name);
  if (!found) throw new Error(`unknown release target "${name}"; known: ${RELEASE_TARGETS.map((t) => t.name).join(", ")}`);
  return found;
}

/**
 * The Bun version releases embed: the `bun` devDependency. The bundler (the bun running this
 * script) must be that same version, because it writes the app into the runtime in a layout
 * only the same version reads back.
 */
export function releaseBunVersion(): string {
  const wanted = packageJson.devDependencies.bun;
  if (!/^\d+\.\d+\.\d+$/.test(wanted)) throw new Error(`package.json devDependencies.bun must be an exact version, not "${wanted}"`);
  if (Bun.version !== wanted) {
    throw new Error(`this is bun ${Bun.version} but package.json pins bun ${wanted}: run the release with node_modules/.bin/bun`);
  }
  return wanted;
}

async function run(cmd: string[], cwd: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile() && s.size > 0,
    () => false,
  );
}

/**
 * Path of the target's Bun runtime at `version`, fetched with `npm pack` into cacheDir on first
 * use. Extraction goes to a temp dir first and is renamed into place, so an interrupted fetch
 * never leaves a truncated runtime that later builds would trust.
 */
export async function fetchRuntime(t: ReleaseTarget, version: string, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, `${t.runtimePackage.replace("@oven/", "")}-${version}`);
  const runtime = join(dir, basename(t.runtimeEntry));
  if (await exists(runtime)) return runtime;

  await mkdir(cacheDir, { recursive: true });
  const work = await mkdtemp(join(cacheDir, ".fetch-"));
  try {
    const spec = `${t.runtimePackage}@${version}`;
    let packed: Awaited<ReturnType<typeof run>>;
    try {
      packed = await run(["npm", "pack", spec, "--json", "--loglevel=error", "--pack-destination", work], work, NPM_PACK_TIMEOUT_MS);
    } catch (error) {
      throw new RuntimeUnavailableError(`cannot run npm to fetch ${spec}: ${String(error)}`);
    }
    if (packed.code !== 0) throw npmPackFailure(spec, packed);
    const tarballs = (await readdir(work)).filter((f) => f.endsWith(".tgz"));
    if (tarballs.length !== 1) throw new RuntimeUnavailableError(`npm pack ${spec} left ${tarballs.length} tarballs, expected 1`);
    const extracted = await run(["tar", "-xzf", tarballs[0], t.runtimeEntry], work, EXTRACT_TIMEOUT_MS);
    if (extracted.code !== 0) throw new Error(`cannot extract ${t.runtimeEntry} from ${spec}: ${extracted.stderr.trim()}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await rename(join(work, t.runtimeEntry), runtime);
    return runtime;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * npm pack's failure as an error: a package or version the registry does not have is a mistake
 * in RELEASE_TARGETS or package.json; anything else (network, timeout) is the environment.
 */
function npmPackFailure(spec: string, packed: { code: number; stdout: string; stderr: string }): Error {
  let code = "";
  let summary = packed.stderr.trim().split("\n")[0] ?? "";
  try {
    const parsed: unknown = JSON.parse(packed.stdout);
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      const error = parsed.error as { code?: unknown; summary?: unknown };
      if (typeof error.code === "string") code = error.code;
      if (typeof error.summary === "string") summary = error.summary;
    }
  } catch {
    // Not JSON (killed by the timeout, or an npm too old for --json errors): keep stderr's line.
  }
  const message = `npm pack ${spec} failed (exit ${packed.code}${code ? `, ${code}` : ""}): ${summary}`;
  if (code === "E404" || code === "ETARGET") return new Error(`${message}; is package.json's bun version published for every platform in RELEASE_TARGETS?`);
  return new RuntimeUnavailableError(message);
}

// --- What an executable is, from its first bytes -------------------------------------------

export interface ExecutableDescription {
  format: ExecutableFormat | "unknown";
  cpu: Cpu | "other";
  /** ELF only: the PT_INTERP path (the dynamic loader), or null for a static ELF. */
  interpreter: string | null;
}

const ELF_MACHINE: Record<number, Cpu> = { 0x3e: "x64", 0xb7: "arm64" }; // EM_X86_64, EM_AARCH64
const MACHO_CPU: Record<number, Cpu> = { 0x01000007: "x64", 0x0100000c: "arm64" }; // CPU_TYPE_X86_64, CPU_TYPE_ARM64
const PE_MACHINE: Record<number, Cpu> = { 0x8664: "x64", 0xaa64: "arm64" }; // IMAGE_FILE_MACHINE_AMD64, _ARM64
const PT_INTERP = 3;
/** Headers and the loader path sit in the first page or so of every format we ship. */
const HEADER_BYTES = 64 * 1024;

/** Reads the format, CPU and (ELF) loader of a 64-bit little-endian executable. */
export async function describeExecutable(path: string): Promise<ExecutableDescription> {
  const bytes = new Uint8Array(await Bun.file(path).slice(0, HEADER_BYTES).arrayBuffer());
  const view = new DataView(bytes.buffer);
  const unknown: ExecutableDescription = { format: "unknown", cpu: "other", interpreter: null };
  if (bytes.length < 64) return unknown;

  // ELF: "\x7fELF", class 2 (64-bit), data 1 (little-endian); e_machine at 18, e_phoff at 32,
  // e_phentsize/e_phnum at 54/56; each program header: p_type at 0, p_offset at 8, p_filesz at 32.
  if (view.getUint32(0) === 0x7f454c46 && bytes[4] === 2 && bytes[5] === 1) {
    const cpu = ELF_MACHINE[view.getUint16(18, true)] ?? "other";
    const phoff = Number(view.getBigUint64(32, true));
    const phentsize = view.getUint16(54, true);
    const phnum = view.getUint16(56, true);
    let interpreter: string | null = null;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      if (at + 40 > bytes.length) break;
      if (view.getUint32(at, true) !== PT_INTERP) continue;
      const offset = Number(view.getBigUint64(at + 8, true));
      const size = Number(view.getBigUint64(at + 32, true));
      if (offset + size <= bytes.length) interpreter = new TextDecoder().decode(bytes.subarray(offset, offset + size)).replace(/\0+$/, "");
    }
    return { format: "elf", cpu, interpreter };
  }
  // Mach-O 64-bit thin binary: MH_MAGIC_64 (0xfeedfacf, little-endian on disk), cputype at 4.
  if (view.getUint32(0, true) === 0xfeedfacf) {
    return { format: "macho", cpu: MACHO_CPU[view.getUint32(4, true)] ?? "other", interpreter: null };
  }
  // PE: "MZ", e_lfanew at 0x3c points at "PE\0\0", then the COFF Machine field.
  if (bytes[0] === 0x4d && bytes[1] === 0x5a) {
    const pe = view.getUint32(0x3c, true);
    if (pe + 6 <= bytes.length && view.getUint32(pe) === 0x50450000) {
      return { format: "pe", cpu: PE_MACHINE[view.getUint16(pe + 4, true)] ?? "other", interpreter: null };
    }
  }
  return unknown;
}

/** Why `description` is not a binary for `t`, or null when it is. */
export function mismatch(t: ReleaseTarget, description: ExecutableDescription): string | null {
  if (description.format !== t.format) return `is ${description.format}, expected ${t.format}`;
  if (description.cpu !== t.cpu) return `is for ${description.cpu}, expected ${t.cpu}`;
  if (t.libc !== null) {
    const loader = description.interpreter ?? "(none)";
    const musl = loader.includes("ld-musl");
    if ((t.libc === "musl") !== musl) return `asks for loader ${loader}, expected a ${t.libc} loader`;
  }
  return null;
}

// --- Building ---------------------------------------------------------------------------------

export async function sha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** Builds one target into outDir and checks what came out; returns the binary's path. */
export async function buildTarget(t: ReleaseTarget, outDir: string, runtime: string): Promise<string> {
  const outfile = join(outDir, releaseFileName(t));
  await rm(outfile, { force: true });
  try {
    await build(outfile, [`--target=${t.bunTarget}`, `--compile-executable-path=${runtime}`]);
  } catch (error) {
    const stderr = error instanceof $.ShellError ? error.stderr.toString().trim() : String(error);
    throw new Error(`bun build for ${t.name} failed: ${stderr}`);
  }
  const problem = mismatch(t, await describeExecutable(outfile));
  if (problem) throw new Error(`${outfile} ${problem} (a bug in scripts/release.ts)`);
  return outfile;
}

/** SHA256SUMS in `sha256sum` text format: "<hex>  <file name>" per line, names relative to its dir. */
export async function writeChecksums(outDir: string, files: string[]): Promise<string> {
  const lines: string[] = [];
  for (const file of files) lines.push(`${await sha256(file)}  ${basename(file)}`);
  const path = join(outDir, CHECKSUMS_FILE);
  await Bun.write(path, lines.join("\n") + "\n");
  return path;
}

async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  });
  await Promise.all(lanes);
  return results;
}

export interface ReleaseOptions {
  targets?: readonly ReleaseTarget[];
  /** Relative paths are from the repository root. */
  outDir?: string;
  cacheDir?: string;
  log?: (line: string) => void;
}

/**
 * Fetches the runtimes (all at once: network-bound), compiles (COMPILE_CONCURRENCY at a time),
 * and writes SHA256SUMS listing exactly the binaries built. Returns their paths.
 */
export async function release(options: ReleaseOptions = {}): Promise<{ files: string[]; checksums: string }> {
  const root = resolve(import.meta.dir, "..");
  const targets = options.targets ?? RELEASE_TARGETS;
  const outDir = resolve(root, options.outDir ?? RELEASE_DIR);
  const cacheDir = resolve(root, options.cacheDir ?? RUNTIME_CACHE_DIR);
  const log = options.log ?? (() => {});
  const version = releaseBunVersion();
  await mkdir(outDir, { recursive: true });
  // build() runs `bun build` with paths relative to the repository root.
  const cwd = process.cwd();
  process.chdir(root);
  try {
    return await releaseIn(targets, outDir, cacheDir, version, log);
  } finally {
    process.chdir(cwd);
  }
}

async function releaseIn(targets: readonly ReleaseTarget[], outDir: string, cacheDir: string, version: string, log: (line: string) => void): Promise<{ files: string[]; checksums: string }> {
  // The directory ends up holding exactly this run's binaries and their SHA256SUMS: a binary
  // left from an earlier run would sit there unlisted, or listed with a stale sum.
  for (const entry of await readdir(outDir)) {
    if (entry.startsWith("tray-") || entry === CHECKSUMS_FILE) await rm(join(outDir, entry), { force: true });
  }
  const started = performance.now();
  const runtimes = await Promise.all(targets.map((t) => fetchRuntime(t, version, cacheDir)));
  log(`runtimes for bun ${version} ready in ${seconds(started)} (${cacheDir})`);

  const files = await inParallel(targets, COMPILE_CONCURRENCY, async (t) => {
    const began = performance.now();
    const file = await buildTarget(t, outDir, runtimes[targets.indexOf(t)]);
    log(`built ${file} in ${seconds(began)}`);
    return file;
  });
  const checksums = await writeChecksums(outDir, files);
  log(`wrote ${checksums}; ${files.length} binaries in ${seconds(started)}`);
  return { files, checksums };
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const outArg = args.find((a) => a.startsWith("--out="));
  const names = args.filter((a) => !a.startsWith("--"));
  const unknown = args.filter((a) => a.startsWith("--") && !a.startsWith("--out="));
  if (unknown.length > 0) {
    console.error(`release: unknown option ${unknown[0]}; usage: bun scripts/release.ts [--out=DIR] [TARGET...]`);
    process.exit(2);
  }
  try {
    const { checksums } = await release({
      targets: names.length > 0 ? names.map(findTarget) : RELEASE_TARGETS,
      outDir: outArg?.slice("--out=".length),
      log: (line) => console.log(line),
    });
    process.stdout.write(await Bun.file(checksums).text());
  } catch (error) {
    console.error(`release: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof RuntimeUnavailableError ? EXIT_RUNTIME_UNAVAILABLE : 1);
  }
}
