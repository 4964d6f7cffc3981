// A wrk workload against one running server: a smoke request that checks the route answers what
// it should, a warm-up run whose figures are discarded, then the measured run, with the server's
// tree RSS sampled throughout and its CPU time read around the measured run.
import type { BenchProfile } from "./config.ts";
import type { WrkMeasurement } from "./measurements.ts";
import { machineCpu, sampleRss, treeCpuSeconds } from "./process.ts";
import type { RunningServer } from "./process.ts";
import type { WrkWorkload } from "./workloads.ts";
import { runWrk } from "./wrk.ts";

async function smoke(server: RunningServer, workload: WrkWorkload): Promise<void> {
  const { method, bodyBytes, headers, expect } = workload.smoke;
  const response = await fetch(`http://127.0.0.1:${server.port}${workload.path}`, {
    method,
    headers,
    body: bodyBytes === undefined ? undefined : new Uint8Array(bodyBytes).fill(0x61),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status !== 200 || !expect(body)) {
    throw new Error(`${method} ${workload.path} answered ${response.status} with ${JSON.stringify(body.slice(0, 80))}`);
  }
}

export async function measureLoad(
  server: RunningServer,
  workload: WrkWorkload,
  profile: BenchProfile,
  pinCpu: number | null,
  tmpDir: string,
): Promise<WrkMeasurement> {
  const rss = sampleRss(server.pid);
  try {
    await smoke(server, workload);
    const run = {
      port: server.port,
      path: workload.path,
      connections: workload.connections,
      script: workload.script,
      scriptArgs: workload.scriptArgs,
      pinCpu,
      tmpDir,
    };
    await runWrk({ ...run, scriptArgs: workload.warmupScriptArgs ?? run.scriptArgs, seconds: profile.warmupSeconds });
    const cpuBefore = treeCpuSeconds(server.pid);
    const machineBefore = machineCpu();
    const wrk = await runWrk({ ...run, seconds: profile.durationSeconds });
    const cpuSeconds = treeCpuSeconds(server.pid) - cpuBefore;
    const machineAfter = machineCpu();
    const processes = machineAfter.processSeconds - machineBefore.processSeconds;
    const steal = machineAfter.stealSeconds - machineBefore.stealSeconds;
    return {
      kind: "wrk",
      wrk,
      peakRssKiB: rss.peakKiB(),
      cpuSeconds,
      softirqSeconds: machineAfter.softirqSeconds - machineBefore.softirqSeconds,
      otherCpuSeconds: Math.max(0, processes - cpuSeconds - wrk.clientCpuSeconds) + steal,
    };
  } finally {
    rss.stop();
  }
}
