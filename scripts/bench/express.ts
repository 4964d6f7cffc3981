// The Express servers of the suite (issue 8): one Express 4 app (apps/express-app.mjs) run three
// ways — served by tray with a Worker per core, on Node's node:http, and on Bun's node:http.
// servers.ts spreads these entries into SERVERS; the helpers it already has are passed in, so
// tray is built once per run and the same `output`/`memo` are used.
//
// Express is installed from npm into the bench cache (never the project's node_modules), pinned
// to EXPRESS_VERSION, once; TRAY_BENCH_EXPRESS tells the app where it is.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchContext, PreparedServer, ServerSpec } from "./servers.ts";

/** The Express the suite measures: the 4.x line most production apps run. */
export const EXPRESS_VERSION = "4.22.3";

/** The workloads the Express servers run: the Express hello, and the CPU-bound one that
 *  shows what a Worker per core buys a single-threaded framework. */
const EXPRESS_WORKLOADS = ["hello", "json"];

export interface ExpressDeps {
  host: string;
  prepareTray: (ctx: BenchContext) => Promise<string | { binary: string; version: string }>;
  bunPath: (ctx: BenchContext) => string;
  output: (argv: string[], env?: Record<string, string>) => Promise<string | null>;
  memo: <T>(key: string, make: () => Promise<T>) => Promise<T>;
}

/** `npm install express@EXPRESS_VERSION` into the cache; the directory, or why not. */
function prepareExpress(ctx: BenchContext, deps: ExpressDeps): Promise<string | { dir: string }> {
  return deps.memo("express", async () => {
    const dir = join(ctx.cacheDir, `express-${EXPRESS_VERSION}`);
    const manifest = join(dir, "node_modules/express/package.json");
    const version = () => (existsSync(manifest) ? (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version : null);
    if (version() !== EXPRESS_VERSION) {
      ctx.log(`installing express@${EXPRESS_VERSION} from npm into ${dir} ...`);
      const done = await deps.output(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", dir, `express@${EXPRESS_VERSION}`]);
      if (done === null || version() !== EXPRESS_VERSION) return `npm install express@${EXPRESS_VERSION} failed (no registry?)`;
    }
    return { dir };
  });
}

export function expressServers(deps: ExpressDeps): ServerSpec[] {
  const { host } = deps;
  const env = (dir: string) => ({ TRAY_BENCH_EXPRESS: dir });
  return [
    {
      name: "tray-express",
      onlyWorkloads: EXPRESS_WORKLOADS,
      label: "tray + Express",
      family: "tray",
      prepare: async (ctx): Promise<PreparedServer | string> => {
        const [tray, express] = await Promise.all([deps.prepareTray(ctx), prepareExpress(ctx, deps)]);
        if (typeof tray === "string") return tray;
        if (typeof express === "string") return express;
        return {
          version: `${tray.version}; express ${EXPRESS_VERSION}`,
          launch: (port, extraArgs) => ({
            argv: [tray.binary, `--host=${host}`, `--port=${port}`, `--threads=${ctx.cores}`, ...extraArgs, "express-app.mjs"],
            cwd: ctx.appsDir,
            env: env(express.dir),
          }),
        };
      },
    },
    {
      name: "express-node",
      onlyWorkloads: EXPRESS_WORKLOADS,
      label: "Express on Node",
      family: "express",
      prepare: async (ctx): Promise<PreparedServer | string> => {
        const [node, express] = await Promise.all([deps.output(["node", "--version"]), prepareExpress(ctx, deps)]);
        if (node === null) return "no node on PATH";
        if (typeof express === "string") return express;
        return {
          version: `node ${node}; express ${EXPRESS_VERSION}`,
          launch: (port, extraArgs) => ({ argv: ["node", ...extraArgs, "express-listen.mjs", host, String(port)], cwd: ctx.appsDir, env: env(express.dir) }),
        };
      },
    },
    {
      name: "express-bun",
      onlyWorkloads: EXPRESS_WORKLOADS,
      label: "Express on Bun node:http",
      family: "express",
      prepare: async (ctx): Promise<PreparedServer | string> => {
        const [bun, express] = await Promise.all([deps.output([deps.bunPath(ctx), "--version"]), prepareExpress(ctx, deps)]);
        if (bun === null) return "node_modules/.bin/bun does not run (npm install?)";
        if (typeof express === "string") return express;
        return {
          version: `bun ${bun}; express ${EXPRESS_VERSION}`,
          launch: (port, extraArgs) => ({ argv: [deps.bunPath(ctx), "express-listen.mjs", host, String(port), ...extraArgs], cwd: ctx.appsDir, env: env(express.dir) }),
        };
      },
    },
  ];
}
