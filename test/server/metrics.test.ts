// The metrics registry and Prometheus text format 0.0.4 (src/server/metrics.ts): the exact text
// for each kind of metric, escaping, cumulative buckets, and tray's own metric set.

import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { CounterFamily, Gauge, Histogram, MetricsRegistry, ServerMetrics } from "../../src/server/metrics.ts";


const HAS_PROMTOOL = spawnSync("promtool", ["--version"], { stdio: "ignore" }).status === 0;
if (!HAS_PROMTOOL) console.warn("metrics.test.ts: promtool is not installed (Debian package prometheus); skipping its check");

describe("text format 0.0.4", () => {
  test("a labelled counter: HELP, TYPE, one sample per child in creation order", () => {
    const r = new MetricsRegistry();
    const f = r.add(new CounterFamily("x_total", "Things.", "kind"));
    f.child("a").value += 2;
    f.child("b");
    expect(r.render()).toBe('# HELP x_total Things.\n# TYPE x_total counter\nx_total{kind="a"} 2\nx_total{kind="b"} 0\n');
  });

  test("label values escape backslash, quote and line feed; HELP escapes backslash and line feed", () => {
    const r = new MetricsRegistry();
    r.add(new CounterFamily("y_total", "a\\b\nc", "l")).child('q"\\\n').value = 1;
    expect(r.render()).toBe('# HELP y_total a\\\\b\\nc\n# TYPE y_total counter\ny_total{l="q\\"\\\\\\n"} 1\n');
  });

  test("a gauge is read when rendered", () => {
    let v = 1;
    const r = new MetricsRegistry();
    r.add(new Gauge("g", "G.", () => v));
    expect(r.render()).toContain("\ng 1\n");
    v = 2.5;
    expect(r.render()).toContain("\ng 2.5\n");
  });

  test("a histogram: cumulative buckets ending in +Inf, then _sum and _count; a value on a bound falls in that bucket", () => {
    const r = new MetricsRegistry();
    const h = r.add(new Histogram("d_seconds", "D.", [0.1, 1]));
    h.observe(0.1);
    h.observe(0.5);
    h.observe(7);
    expect(r.render()).toBe(
      [
        "# HELP d_seconds D.",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{le="0.1"} 1',
        'd_seconds_bucket{le="1"} 2',
        'd_seconds_bucket{le="+Inf"} 3',
        "d_seconds_sum 7.6",
        "d_seconds_count 3",
        "",
      ].join("\n"),
    );
  });

  test("a name registered twice is a bug", () => {
    const r = new MetricsRegistry();
    r.add(new Gauge("g", "G.", () => 0));
    expect(() => r.add(new Gauge("g", "G.", () => 0))).toThrow("registered twice");
  });
});

describe("tray's metrics", () => {
  test("exchangeFinished counts by status class and observes the duration since the head", () => {
    const m = new ServerMetrics({ requestsInFlight: () => 3, connectionsOpen: () => 4 });
    m.exchangeFinished(200, 0);
    m.exchangeFinished(204, 0);
    m.exchangeFinished(404, 0);
    m.exchangeFinished(503, 2); // 2 s ago: above the 1 s bucket, within 2.5 s
    const text = m.render();
    expect(text).toContain('tray_requests_total{status_class="2xx"} 2\n');
    expect(text).toContain('tray_requests_total{status_class="4xx"} 1\n');
    expect(text).toContain('tray_requests_total{status_class="5xx"} 1\n');
    expect(text).toContain('tray_requests_total{status_class="1xx"} 0\n');
    expect(text).toContain('tray_request_duration_seconds_bucket{le="1"} 3\n');
    expect(text).toContain('tray_request_duration_seconds_bucket{le="2.5"} 4\n');
    expect(text).toContain("tray_request_duration_seconds_count 4\n");
    expect(text).toContain("tray_requests_in_flight 3\n");
    expect(text).toContain("tray_connections_open 4\n");
    expect(text).toMatch(/\nprocess_resident_memory_bytes [1-9][0-9]*\n/);
    expect(text).toMatch(/\nprocess_start_time_seconds 1[0-9]{9}(\.[0-9]+)?\n/);
  });

  test("worker restarts by reason: crash and reload exist at 0, others appear when counted", () => {
    const m = new ServerMetrics({ requestsInFlight: () => 0, connectionsOpen: () => 0 });
    expect(m.render()).toContain('tray_worker_restarts_total{reason="crash"} 0\n');
    m.workerRestarted("crash");
    m.workerRestarted("timeout");
    expect(m.render()).toContain('tray_worker_restarts_total{reason="crash"} 1\n');
    expect(m.render()).toContain('tray_worker_restarts_total{reason="timeout"} 1\n');
  });

  test.skipIf(!HAS_PROMTOOL)("promtool check metrics accepts the whole exposition", () => {
    const m = new ServerMetrics({ requestsInFlight: () => 0, connectionsOpen: () => 0 });
    m.exchangeFinished(200, 0);
    const r = spawnSync("promtool", ["check", "metrics"], { input: m.render(), encoding: "utf8", timeout: 10000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
