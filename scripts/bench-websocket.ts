// `npm run bench:websocket` (and the end of a full `npm run bench`): tray's WebSockets beside
// Bun.serve's and the `ws` package's on Node and on Bun, one run, side by side (issue 14).
//
//   bun scripts/bench-websocket.ts [--seconds=N] [--clients=N] [--idle=1000,10000] [--only=NAME,...] [--no-build] [--out=FILE]
//
// Strategy: per server, three fresh starts on 127.0.0.1: (1) echo: a separate load process
// (scripts/bench/ws-load.ts, Bun's WebSocket client) keeps CLIENTS connections each doing one
// 32-byte round trip at a time for SECONDS after a one-second warm-up; (2, 3) idle: this process
// opens N WebSockets that then say nothing, and the server's RSS (its process tree, /proc) is read
// once they are all open and a second has passed. Every server runs the same echo: tray and
// Bun.serve scripts/bench/apps/ws-echo.mjs, `ws` bench/ws-peer/server.mjs (installed there with
// `npm ci` from its lockfile when missing; never a dependency of tray). N sockets need N file
// descriptors on each side: the script re-runs itself under a raised `ulimit -n`, or skips the
// counts it cannot open. Targets (issue 14): echo >= 1.0x `ws` on Node; 1,000 idle sockets under
// 100 MiB RSS, 10,000 under 250 MiB.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, launch, sleep, stop, treeRssKiB, waitReady, type LaunchSpec } from "./bench/process.ts";

const ROOT = join(import.meta.dir, "..");
const APPS = join(ROOT, "scripts/bench/apps");
const PEER = join(ROOT, "bench/ws-peer");
const BUN = join(ROOT, "node_modules/.bin/bun");
const HOST = "127.0.0.1";
/** Descriptors beyond the sockets: the runtime's own, log files, the load process. */
const NOFILE_SPARE = 2_000;
/** Idle sockets opened at once. */
const IDLE_BATCH = 250;
const IDLE_SETTLE_MS = 1_000;
const TARGET_IDLE_MIB = new Map([[1_000, 100], [10_000, 250]]);

interface Cli {
  seconds: number;
  clients: number;
  idle: number[];
  only: string[] | null;
  build: boolean;
  out: string;
}

interface Server {
  name: string;
  label: string;
  /** null: skipped, with the reason in `why`. */
  launch: ((port: number, connections: number) => LaunchSpec) | null;
  why?: string;
  version: string;
}

interface Row {
  server: string;
  echo: { perSecond: number; failed: number } | string;
  idle: Map<number, { open: number; baselineMiB: number; rssMiB: number } | string>;
}

function parseCli(argv: string[]): Cli {
  const cli: Cli = { seconds: 10, clients: 64, idle: [1_000, 10_000], only: null, build: true, out: "bench/websocket-results.md" };
  for (const arg of argv) {
    const [flag, value = ""] = arg.split(/=(.*)/s, 2);
    if (flag === "--seconds" && Number(value) > 0) cli.seconds = Number(value);
    else if (flag === "--clients" && Number(value) > 0) cli.clients = Number(value);
    else if (flag === "--idle") cli.idle = value.split(",").filter(Boolean).map(Number);
    else if (flag === "--only") cli.only = value.split(",").filter(Boolean);
    else if (flag === "--no-build") cli.build = false;
    else if (flag === "--out" && value) cli.out = value;
    else throw new Error(`unknown argument '${arg}'; usage: bun scripts/bench-websocket.ts [--seconds=N] [--clients=N] [--idle=1000,10000] [--only=tray,bun-serve,ws-node,ws-bun] [--no-build] [--out=FILE]`);
  }
  return cli;
}

function softNofile(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files")) ?? "";
  const [soft, hard] = line.split(/\s+/).slice(3, 5).map((v) => (v === "unlimited" ? Infinity : Number(v)));
  return { soft, hard };
}

/** Re-runs this script under `ulimit -n` raised as far as the hard limit allows (servers inherit it). */
function raiseNofile(wanted: number): void {
  const { soft, hard } = softNofile();
  if (soft >= wanted || process.env.TRAY_BENCH_WS_NOFILE) return;
  const target = Math.min(hard, wanted);
  if (target <= soft) return;
  const result = Bun.spawnSync(["sh", "-c", `ulimit -n ${target} && exec "$@"`, "sh", process.execPath, ...process.argv.slice(1)], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, TRAY_BENCH_WS_NOFILE: "1" },
  });
  process.exit(result.exitCode ?? 1);
}

async function output(argv: string[], cwd = ROOT): Promise<string | null> {
  try {
    const proc = Bun.spawn(argv, { cwd, stdout: "pipe", stderr: "pipe" });
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    return code === 0 ? text.trim() : null;
  } catch {
    return null;
  }
}

/** `ws` from bench/ws-peer's lockfile; its version, or why not. */
async function preparePeer(): Promise<{ version: string } | string> {
  const manifest = join(PEER, "node_modules/ws/package.json");
  if (!existsSync(manifest)) {
    console.log("bench: installing ws into bench/ws-peer (npm ci) ...");
    if ((await output(["npm", "ci", "--no-audit", "--no-fund"], PEER)) === null || !existsSync(manifest)) return "npm ci in bench/ws-peer failed (no registry?)";
  }
  return { version: (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version };
}

async function servers(cli: Cli): Promise<Server[]> {
  if (cli.build && (await output([BUN, "scripts/build.ts"])) === null) throw new Error("building dist/tray failed");
  const tray = join(ROOT, "dist/tray");
  const bunVersion = (await output([BUN, "--version"])) ?? "?";
  const nodeVersion = await output(["node", "--version"]);
  const peer = await preparePeer();
  const all: Server[] = [
    {
      name: "tray",
      label: "tray (--threads=1)",
      version: (await output([tray, "--version"])) ?? "?",
      launch: (port, connections) => ({ argv: [tray, `--host=${HOST}`, `--port=${port}`, "--threads=1", `--connection-limit=${connections}`, `--backlog=${IDLE_BATCH * 2}`, "ws-echo.mjs"], cwd: APPS }),
    },
    { name: "bun-serve", label: "Bun.serve websocket", version: `bun ${bunVersion}`, launch: (port) => ({ argv: [BUN, "ws-echo.mjs", HOST, String(port)], cwd: APPS }) },
    typeof peer === "string" || nodeVersion === null
      ? { name: "ws-node", label: "ws on Node", version: "", launch: null, why: typeof peer === "string" ? peer : "node is not installed" }
      : { name: "ws-node", label: `ws ${peer.version} on Node`, version: `node ${nodeVersion}`, launch: (port) => ({ argv: ["node", "server.mjs", HOST, String(port)], cwd: PEER }) },
    typeof peer === "string"
      ? { name: "ws-bun", label: "ws on Bun", version: "", launch: null, why: peer }
      : { name: "ws-bun", label: `ws ${peer.version} on Bun`, version: `bun ${bunVersion}`, launch: (port) => ({ argv: [BUN, "server.mjs", HOST, String(port)], cwd: PEER }) },
  ];
  return all.filter((s) => cli.only === null || cli.only.includes(s.name));
}

/** Starts a fresh server, runs `body` against it, stops it. */
async function withServer<T>(server: Server, connections: number, logDir: string, body: (port: number, pid: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const running = launch(server.launch!(port, connections), port, join(logDir, `${server.name}.log`));
  try {
    await waitReady(running);
    return await body(port, running.pid);
  } finally {
    await stop(running);
  }
}

async function loadRun(port: number, clients: number, seconds: number): Promise<{ roundTrips: number; seconds: number; failed: number }> {
  const proc = Bun.spawn([BUN, join(ROOT, "scripts/bench/ws-load.ts"), `ws://${HOST}:${port}/ws`, String(clients), String(seconds)], { stdout: "pipe", stderr: "pipe" });
  const [text, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`load generator failed: ${err.trim().split("\n").slice(-2).join(" ")}`);
  return JSON.parse(text.trim().split("\n").at(-1)!) as { roundTrips: number; seconds: number; failed: number };
}

async function echo(port: number, cli: Cli): Promise<{ perSecond: number; failed: number }> {
  await loadRun(port, cli.clients, 1); // warm-up: JIT, Workers, buffers
  const run = await loadRun(port, cli.clients, cli.seconds);
  return { perSecond: run.roundTrips / run.seconds, failed: run.failed };
}

function openOne(url: string): Promise<WebSocket | null> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => resolve(null);
  });
}

async function idle(port: number, pid: number, count: number): Promise<{ open: number; baselineMiB: number; rssMiB: number }> {
  const baseline = treeRssKiB(pid);
  const url = `ws://${HOST}:${port}/ws`;
  const sockets: WebSocket[] = [];
  let closed = 0;
  for (let i = 0; i < count; i += IDLE_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(IDLE_BATCH, count - i) }, () => openOne(url)));
    for (const ws of batch) {
      if (ws === null) continue;
      ws.onclose = () => closed++;
      sockets.push(ws);
    }
  }
  await sleep(IDLE_SETTLE_MS);
  const rss = treeRssKiB(pid);
  const open = sockets.length - closed;
  for (const ws of sockets) {
    ws.onclose = null;
    ws.close();
  }
  return { open, baselineMiB: baseline / 1024, rssMiB: rss / 1024 };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

function report(rows: Row[], list: Server[], cli: Cli, nofile: number, seconds: number): string {
  const wsNode = rows.find((r) => r.server === "ws-node")?.echo;
  const base = typeof wsNode === "object" ? wsNode.perSecond : null;
  const lines = [
    "# WebSocket benchmark",
    "",
    `${new Date().toISOString().replace(/\.\d+Z$/, "Z")} · ${cpus().length} cores (${cpus()[0]?.model ?? "?"}) · load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")} · ulimit -n ${nofile} · ${seconds.toFixed(0)} s`,
    "The load generator (Bun's WebSocket client, one process) runs on the same machine as the server.",
    "",
    `## Echo: ${cli.clients} clients, one 32-byte round trip at a time each, ${cli.seconds} s`,
    "",
    "| server | version | round trips/s | vs ws on Node |",
    "|---|---|---:|---:|",
  ];
  for (const s of list) {
    const r = rows.find((x) => x.server === s.name)!;
    const e = r.echo;
    lines.push(typeof e === "string" ? `| ${s.label} | ${s.version} | ${e} | |` : `| ${s.label} | ${s.version} | ${fmt(e.perSecond)}${e.failed ? ` (${e.failed} closed)` : ""} | ${base ? (e.perSecond / base).toFixed(2) + "x" : "-"} |`);
  }
  for (const n of cli.idle) {
    lines.push("", `## ${fmt(n)} idle WebSockets: server RSS (process tree) (target ${TARGET_IDLE_MIB.get(n) ?? "-"} MiB)`, "", "| server | open | RSS before | RSS with them open | per socket |", "|---|---:|---:|---:|---:|");
    for (const s of list) {
      const m = rows.find((x) => x.server === s.name)!.idle.get(n);
      if (m === undefined || typeof m === "string") lines.push(`| ${s.label} | ${m ?? "-"} | | | |`);
      else lines.push(`| ${s.label} | ${fmt(m.open)}/${fmt(n)} | ${m.baselineMiB.toFixed(0)} MiB | ${m.rssMiB.toFixed(0)} MiB | ${(((m.rssMiB - m.baselineMiB) * 1024) / Math.max(1, m.open)).toFixed(1)} KiB |`);
    }
  }
  const verdicts: string[] = [];
  const trayEcho = rows.find((r) => r.server === "tray")?.echo;
  if (typeof trayEcho === "object" && base) verdicts.push(`echo ${(trayEcho.perSecond / base).toFixed(2)}x ws on Node (target >= 1.0x): ${trayEcho.perSecond >= base ? "met" : "NOT met"}`);
  for (const [n, mib] of TARGET_IDLE_MIB) {
    const m = rows.find((r) => r.server === "tray")?.idle.get(n);
    if (typeof m === "object") verdicts.push(`${fmt(n)} idle sockets: ${m.rssMiB.toFixed(0)} MiB with ${fmt(m.open)} open (target < ${mib} MiB): ${m.rssMiB < mib && m.open === n ? "met" : "NOT met"}`);
  }
  if (verdicts.length > 0) lines.push("", "## Targets (issue 14)", "", ...verdicts.map((v) => `- ${v}`));
  return lines.join("\n");
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const most = Math.max(0, ...cli.idle);
  raiseNofile(most + NOFILE_SPARE);
  const nofile = softNofile().soft;
  const started = performance.now();
  const logDir = mkdtempSync(join(tmpdir(), "tray-bench-ws-"));
  const list = await servers(cli);
  const rows: Row[] = [];
  for (const server of list) {
    const row: Row = { server: server.name, echo: "skipped", idle: new Map() };
    rows.push(row);
    if (server.launch === null) {
      row.echo = `skipped (${server.why})`;
      console.log(`bench: ${server.name}: skipped (${server.why})`);
      continue;
    }
    try {
      row.echo = await withServer(server, cli.clients * 2, logDir, (port) => echo(port, cli));
      console.log(`bench: echo · ${server.name}: ${fmt(row.echo.perSecond)} round trips/s`);
    } catch (error) {
      row.echo = `failed: ${error instanceof Error ? error.message : String(error)}`;
      console.log(`bench: echo · ${server.name}: ${row.echo}`);
    }
    for (const n of cli.idle) {
      if (n + NOFILE_SPARE > nofile) {
        row.idle.set(n, `skipped: ulimit -n is ${nofile}, ${n + NOFILE_SPARE} needed`);
        continue;
      }
      try {
        const m = await withServer(server, n + 100, logDir, (port, pid) => idle(port, pid, n));
        row.idle.set(n, m);
        console.log(`bench: idle ${n} · ${server.name}: ${m.open} open, RSS ${m.baselineMiB.toFixed(0)} -> ${m.rssMiB.toFixed(0)} MiB`);
      } catch (error) {
        row.idle.set(n, `failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  const markdown = report(rows, list, cli, nofile, (performance.now() - started) / 1000);
  writeFileSync(cli.out, markdown + "\n");
  console.log("\n" + markdown + `\n\nbench: wrote ${cli.out}; server logs in ${logDir}`);
}

await main();
