// Micro-benchmark of the Worker pool alone (no sockets): dispatches N hello-world requests through
// 1 and 2 Workers with a trivial sink, keeping WINDOW requests in flight, and prints requests/s.
//   bun scripts/bench-pool.ts [N=200000] [WINDOW=512] [APP=examples/hello.ts]
// It measures the cross-thread protocol and the Worker's request/response path, which bound what
// the server can reach; compare runs before and after a change to src/pool.
import { WorkerPool, type PoolRequest, type ResponseSink } from "../src/pool/pool.ts";

const N = Number(process.argv[2] ?? 200_000);
const WINDOW = Number(process.argv[3] ?? 512);
const APP = process.argv[4] ?? "examples/hello.ts";
const root = new URL("..", import.meta.url).pathname;

const request: PoolRequest = {
  method: "GET",
  url: "http://127.0.0.1:8080/hello",
  headers: ["Host", "127.0.0.1:8080", "User-Agent", "bench-pool", "Accept", "*/*"],
  body: null,
  bodyFile: null,
  bodyLength: 0,
  remote: { hostname: "127.0.0.1", port: 50000, transport: "tcp" },
  family: "IPv4",
  scriptName: "",
  requestLine: "GET /hello HTTP/1.1",
};

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
    error() {
      failed++;
      next();
    },
  };
  const t0 = performance.now();
  for (; sent < Math.min(WINDOW, N); sent++) pool.dispatch(request, sink);
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await pool.close(1000);
  if (failed > 0) console.error(`${failed} requests failed`);
  const rate = N / seconds;
  console.log(`${threads} worker(s): ${N} requests in ${seconds.toFixed(2)} s = ${Math.round(rate).toLocaleString("en-US")} req/s (window ${WINDOW}, ${(bytes / N).toFixed(0)} body bytes each)`);
  return rate;
}

const one = await run(1);
const two = await run(2);
console.log(`2 workers / 1 worker: ${(two / one).toFixed(2)}x`);
