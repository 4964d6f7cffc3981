// Micro-benchmark of the Worker pool alone (no sockets): dispatches N hello-world requests through
// 1 and 2 Workers with a trivial sink, keeping WINDOW requests in flight, and prints requests/s.
//   bun scripts/bench-pool.ts [N=200000] [WINDOW=512] [RUNS=3] [APP=examples/hello.ts]
// Each pool size runs RUNS times (2 cores are noisy: JIT and GC threads compete) and the median
// is reported.
// It measures the cross-thread protocol and the Worker's request/response path, which bound what
// the server can reach; compare runs before and after a change to src/pool.
import { threadCpuSeconds } from "./bench/process.ts";
import { WorkerPool } from "../src/pool/pool.ts";
import type { PoolRequest, ResponseSink } from "../src/pool/types.ts";

const N = Number(process.argv[2] ?? 200_000);
const WINDOW = Number(process.argv[3] ?? 512);
const RUNS = Number(process.argv[4] ?? 3);
const APP = process.argv[5] ?? "examples/hello.ts";
const root = new URL("..", import.meta.url).pathname;

const request: PoolRequest = {
  method: "GET",
  url: "http://127.0.0.1:8080/hello",
  headers: ["Host", "127.0.0.1:8080", "User-Agent", "bench-pool", "Accept", "*/*"],
  body: null,
  bodyFd: null,
  bodyLength: 0,
  releaseBody: null,
  remote: { hostname: "127.0.0.1", port: 50000, transport: "tcp" },
  family: "IPv4",
  scriptName: "",
  versionMinor: 1,
  requestLine: "GET /hello HTTP/1.1",
  upgrade: false,
};

/** CPU seconds per thread of this process (Linux /proc; empty elsewhere), keyed "tid name". */
function threadCpu(): Map<string, number> {
  return new Map(threadCpuSeconds("self").map((t) => [`${t.tid} ${t.name}`, t.seconds]));
}

/** "main 1.9 s, Workers 1.2 s, other 0.3 s" between two threadCpu() snapshots. */
function cpuSplit(before: Map<string, number>, after: Map<string, number>): string {
  let main = 0;
  let workers = 0;
  let other = 0;
  for (const [key, t] of after) {
    const used = t - (before.get(key) ?? 0);
    if (key.startsWith(`${process.pid} `)) main += used;
    else if (key.endsWith(" Worker")) workers += used;
    else other += used;
  }
  return `CPU: main ${main.toFixed(2)} s, Workers ${workers.toFixed(2)} s, other ${other.toFixed(2)} s`;
}

async function run(threads: number): Promise<number> {
  const pool = new WorkerPool({
    threads,
    app: { module: APP, object: "default", call: false, cwd: root },
    exposeTracebacks: false,
    highWatermark: 16 * 1024 * 1024,
    log: (line) => console.error(line),
  });
  await pool.start();
  let sent = 0;
  let done = 0;
  let bytes = 0;
  let failed = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const next = (): void => {
    if (++done === N) finish();
    else if (sent < N) {
      sent++;
      pool.dispatch(request, sink);
    }
  };
  const sink: ResponseSink = {
    head() {},
    data(chunk) {
      bytes += chunk.byteLength;
    },
    end: next,
    upgrade() {},
    tunnel: () => null,
    error() {
      failed++;
      next();
    },
  };
  const cpu0 = threadCpu();
  const t0 = performance.now();
  for (; sent < Math.min(WINDOW, N); sent++) pool.dispatch(request, sink);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSplit(cpu0, threadCpu());
  await pool.close(1000);
  if (failed > 0) console.error(`${failed} requests failed`);
  const rate = N / seconds;
  console.log(`${threads} worker(s): ${N} requests in ${seconds.toFixed(2)} s = ${Math.round(rate).toLocaleString("en-US")} req/s (window ${WINDOW}, ${(bytes / N).toFixed(0)} body bytes each; ${cpu})`);
  return rate;
}

async function median(threads: number): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < RUNS; i++) rates.push(await run(threads));
  rates.sort((a, b) => a - b);
  const m = rates[Math.floor(rates.length / 2)];
  console.log(`=> ${threads} worker(s): median ${Math.round(m).toLocaleString("en-US")} req/s over ${RUNS} runs`);
  return m;
}

const one = await median(1);
const two = await median(2);
console.log(`2 workers / 1 worker: ${(two / one).toFixed(2)}x`);
