// The servers under test: one entry each. An entry finds (or installs) what it needs once per run
// and says how to start it on a port; when it cannot, it returns the reason and is reported as
// skipped. Adding a server is adding one entry to SERVERS (and its app under apps/ if new).
//
// Every server runs the same routes (apps/handlers.mjs, apps/wsgi_app.py) on 127.0.0.1.
// Workloads may append arguments per server name or per family (see workloads.ts serverArgs).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ensureAptPackage } from "./apt.ts";
import { expressServers } from "./express.ts";
import type { LaunchSpec } from "./process.ts";
import { buildTray, exportHead } from "./source.ts";
import type { TraySource } from "./source.ts";

export type Family = "tray" | "bun" | "node" | "deno" | "waitress" | "express";

export interface BenchContext {
  root: string;
  appsDir: string;
  /** Survives between runs: the deno install lives here (never in the project's node_modules). */
  cacheDir: string;
  /** This run's scratch: server logs, generated Lua. */
  tmpDir: string;
  cores: number;
  /** Which tray to measure: the working tree built, HEAD built in tmpDir, or dist/tray as it is. */
  traySource: TraySource;
  /** HEAD's short commit id when the run started: the report header and tray's version line name the same one. */
  commit: string;
  log: (line: string) => void;
}

export interface PreparedServer {
  version: string;
  launch: (port: number, extraArgs: string[]) => LaunchSpec;
}

export interface ServerSpec {
  name: string;
  /** How the report names it. */
  label: string;
  family: Family;
  /** Ratios in the report are to this server's req/s. */
  baseline?: boolean;
  /** Runs only these workloads (a calibration server that answers just GET /); absent: all. */
  onlyWorkloads?: string[];
  /** Finds binaries and versions; a string is the reason to skip the server. */
  prepare: (ctx: BenchContext) => Promise<PreparedServer | string>;
}

const HOST = "127.0.0.1";

async function output(argv: string[], env?: Record<string, string>): Promise<string | null> {
  try {
    const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return code === 0 ? text.trim() : null;
  } catch {
    return null;
  }
}

/** One promise per key for the whole run (tray and tray-1 share one build; deno installs once). */
const once = new Map<string, Promise<unknown>>();
function memo<T>(key: string, make: () => Promise<T>): Promise<T> {
  if (!once.has(key)) once.set(key, make());
  return once.get(key) as Promise<T>;
}

function bunPath(ctx: BenchContext): string {
  return join(ctx.root, "node_modules/.bin/bun");
}

async function prepareTray(ctx: BenchContext): Promise<string | { binary: string; version: string }> {
  return memo("tray", async () => {
    let binary = join(ctx.root, "dist/tray");
    let origin = "dist/tray as found";
    try {
      const commit = ctx.commit;
      if (ctx.traySource === "head") {
        ctx.log(`building tray from HEAD (${commit}) in ${ctx.tmpDir} ...`);
        binary = await buildTray(await exportHead(ctx.root, join(ctx.tmpDir, "tray-head")), bunPath(ctx));
        origin = `built from commit ${commit}`;
      } else if (ctx.traySource === "worktree") {
        ctx.log("building dist/tray from the working tree ...");
        binary = await buildTray(ctx.root, bunPath(ctx));
        const dirty = await output(["git", "-C", ctx.root, "status", "--porcelain", "--", "src"]);
        origin = `built from the working tree at ${commit}${dirty ? " (src has uncommitted changes)" : ""}`;
      }
    } catch (error) {
      return `build failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (!existsSync(binary)) return "dist/tray does not exist (run npm run build)";
    const version = await output([binary, "--version"]);
    return version === null ? `${binary} --version failed` : { binary, version: `${version}, ${origin}` };
  });
}

/** A server that is one script of scripts/bench/apps run by the project's Bun: `bun SCRIPT HOST PORT`. */
function bunScriptServer(name: string, label: string, script: string): ServerSpec {
  return {
    name,
    label,
    family: "bun",
    prepare: async (ctx) => {
      const version = await memo("bun-version", () => output([bunPath(ctx), "--version"]));
      if (version === null) return "node_modules/.bin/bun does not run (npm install?)";
      return {
        version: `bun ${version}`,
        launch: (port, extraArgs) => ({ argv: [bunPath(ctx), script, HOST, String(port), ...extraArgs], cwd: ctx.appsDir }),
      };
    },
  };
}

function trayServer(name: string, threads: (ctx: BenchContext) => number): ServerSpec {
  return {
    name,
    label: name,
    family: "tray",
    prepare: async (ctx) => {
      const tray = await prepareTray(ctx);
      if (typeof tray === "string") return tray;
      return {
        version: tray.version,
        launch: (port, extraArgs) => ({
          argv: [tray.binary, `--host=${HOST}`, `--port=${port}`, `--threads=${threads(ctx)}`, ...extraArgs, "fetch-app.mjs"],
          cwd: ctx.appsDir,
        }),
      };
    },
  };
}

/** `npm install deno` into the cache (not the project); the platform package holds the real binary. */
async function prepareDeno(ctx: BenchContext): Promise<string | { binary: string; version: string }> {
  return memo("deno", async () => {
    const prefix = join(ctx.cacheDir, "deno");
    const find = (): string | null => {
      const scope = join(prefix, "node_modules/@deno");
      if (!existsSync(scope)) return null;
      for (const platform of readdirSync(scope)) {
        const binary = join(scope, platform, "deno");
        if (existsSync(binary)) return binary;
      }
      return null;
    };
    if (find() === null) {
      ctx.log(`installing deno from npm into ${prefix} ...`);
      const installed = await output(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix, "deno"]);
      if (installed === null) return "npm install deno failed (no registry?)";
    }
    const binary = find();
    if (binary === null) return "the deno npm package has no binary for this platform";
    // The binary runs offline: no upgrade check; DENO_DIR in the cache, not ~/.cache/deno.
    const version = await output([binary, "--version"], denoEnv(ctx));
    return version === null ? `${binary} --version failed` : { binary, version: version.split("\n")[0] };
  });
}

function denoEnv(ctx: BenchContext): Record<string, string> {
  return { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: join(ctx.cacheDir, "deno-dir") };
}

/** Debian's python3 (a pyenv or venv python3 earlier on PATH lacks python3-waitress). */
const SYSTEM_PYTHON = "/usr/bin/python3";

export const SERVERS: ServerSpec[] = [
  trayServer("tray", (ctx) => ctx.cores),
  trayServer("tray-1", () => 1),
  { ...bunScriptServer("bun-serve", "Bun.serve", "bun-serve.mjs"), baseline: true },
  bunScriptServer("bun-node-http", "Bun node:http", "node-http.mjs"),
  { ...bunScriptServer("bun-net", "Bun node:net, canned reply (ceiling)", "net-ceiling.mjs"), onlyWorkloads: ["hello", "pipelined", "close"] },
  {
    name: "node-http",
    label: "Node node:http",
    family: "node",
    prepare: async (ctx) => {
      const version = await output(["node", "--version"]);
      if (version === null) return "no node on PATH";
      return {
        version: `node ${version}`,
        launch: (port, extraArgs) => ({ argv: ["node", ...extraArgs, "node-http.mjs", HOST, String(port)], cwd: ctx.appsDir }),
      };
    },
  },
  {
    name: "deno",
    label: "deno serve --parallel",
    family: "deno",
    prepare: async (ctx) => {
      const deno = await prepareDeno(ctx);
      if (typeof deno === "string") return deno;
      return {
        version: deno.version,
        launch: (port, extraArgs) => ({
          argv: [deno.binary, "serve", "--parallel", `--host=${HOST}`, `--port=${port}`, ...extraArgs, "fetch-app.mjs"],
          cwd: ctx.appsDir,
          env: denoEnv(ctx),
        }),
      };
    },
  },
  {
    name: "waitress",
    label: "Waitress",
    family: "waitress",
    prepare: async (ctx) => {
      const probe = [SYSTEM_PYTHON, "-c", "import importlib.metadata as m, sys; print(m.version('waitress'), sys.version.split()[0])"];
      const present = async () => (await output(probe)) !== null;
      if (!(await ensureAptPackage("python3-waitress", present, ctx.log))) {
        return "python3-waitress is not installed (apt-get install -y python3-waitress)";
      }
      const version = (await output(probe)) ?? "? ?";
      const [waitress, python] = version.split(" ");
      return {
        version: `waitress ${waitress} (python ${python})`,
        launch: (port, extraArgs) => ({
          argv: [SYSTEM_PYTHON, "-m", "waitress", `--host=${HOST}`, `--port=${port}`, ...extraArgs, "wsgi_app:app"],
          cwd: ctx.appsDir,
        }),
      };
    },
  },
  // One Express app served by tray, by Node's node:http and by Bun's (express.ts).
  ...expressServers({ host: HOST, prepareTray, bunPath, output, memo }),
];
