// Metrics for --admin-listen's /metrics: a tiny registry (counter, gauge, histogram with fixed
// buckets) and Prometheus' text exposition format 0.0.4.
//
// Strategy: counting must cost the request path nothing measurable, so everything the hot path
// touches is a plain number field reached without a lookup: exchangeFinished() indexes an array by
// status class and walks a dozen fixed bucket bounds. Label sets are fixed when a metric is made
// (one child object per label value, looked up only off the hot path); gauges that the server
// already knows (requests in flight, open connections, memory) are read when scraped, not kept.
// All text is built at scrape time.
//
// Format: https://prometheus.io/docs/instrumenting/exposition_formats/ (text format 0.0.4):
// "# HELP name text" and "# TYPE name kind" lines, then `name{label="value"} number` samples;
// a histogram has cumulative name_bucket{le="..."} samples ending in le="+Inf", then name_sum and
// name_count.

/** The Content-Type a scraper expects for text format 0.0.4. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Request durations, in seconds: Prometheus client libraries' default buckets. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Worker restart reasons known from the start, so their series exist at 0 (other reasons appear when first counted). */
export const WORKER_RESTART_REASONS: readonly string[] = ["crash", "reload"];

// --- the registry ------------------------------------------------------------------------------

/** One metric family: its HELP and TYPE lines and the samples it renders. */
interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  samples(out: string[]): void;
}

/** Prometheus text format: a label value escapes backslash, double quote and line feed. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: Go's ParseFloat reads JS number text, except the infinities and NaN. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** A counter, or one labelled child of a counter family: `value` is bumped directly. */
export class Counter {
  value = 0;
}

/** A counter with one label, one child per label value. */
export class CounterFamily implements Family {
  readonly type = "counter" as const;
  private readonly children = new Map<string, Counter>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly label: string,
  ) {}

  /** The child for a label value, made at 0 if new: look it up once and keep it, off the hot path. */
  child(value: string): Counter {
    let c = this.children.get(value);
    if (c === undefined) {
      c = new Counter();
      this.children.set(value, c);
    }
    return c;
  }

  samples(out: string[]): void {
    for (const [value, c] of this.children) out.push(`${this.name}{${this.label}="${escapeLabelValue(value)}"} ${formatValue(c.value)}`);
  }
}

/** A gauge read when scraped. */
export class Gauge implements Family {
  readonly type = "gauge" as const;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  samples(out: string[]): void {
    out.push(`${this.name} ${formatValue(this.read())}`);
  }
}

/** A histogram with fixed upper bounds; counts per bucket are kept apart and summed when scraped. */
export class Histogram implements Family {
  readonly type = "histogram" as const;
  /** counts[i]: observations <= bounds[i] and > bounds[i - 1]; the last slot is for those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  samples(out: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      out.push(`${this.name}_bucket{le="${formatValue(this.bounds[i])}"} ${cumulative}`);
    }
    out.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${this.name}_sum ${formatValue(this.sum)}`);
    out.push(`${this.name}_count ${this.count}`);
  }
}

/** Families in exposition order. */
export class MetricsRegistry {
  private readonly families: Family[] = [];

  add<F extends Family>(family: F): F {
    if (this.families.some((f) => f.name === family.name)) throw new Error(`bug: metric ${family.name} registered twice`);
    this.families.push(family);
    return family;
  }

  /** The text exposition (format 0.0.4), ending in a line feed. */
  render(): string {
    const out: string[] = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      f.samples(out);
    }
    out.push("");
    return out.join("\n");
  }
}

// --- tray's metrics ----------------------------------------------------------------------------

/** What the server knows without counting: read at scrape time. */
export interface MetricsSources {
  requestsInFlight: () => number;
  connectionsOpen: () => number;
}

export class ServerMetrics {
  readonly registry = new MetricsRegistry();
  /** tray_requests_total by status class: [1xx, 2xx, 3xx, 4xx, 5xx]. */
  private readonly byClass: Counter[];
  private readonly duration: Histogram;
  private readonly restarts: CounterFamily;

  constructor(sources: MetricsSources) {
    const r = this.registry;
    const requests = r.add(new CounterFamily("tray_requests_total", "Responses tray finished writing, by status class.", "status_class"));
    this.byClass = ["1xx", "2xx", "3xx", "4xx", "5xx"].map((c) => requests.child(c));
    this.duration = r.add(new Histogram("tray_request_duration_seconds", "Seconds from a request's head arriving to its response's last byte handed to the socket.", DURATION_BUCKETS));
    r.add(new Gauge("tray_requests_in_flight", "Requests the app's Workers are running now.", sources.requestsInFlight));
    r.add(new Gauge("tray_connections_open", "Client connections open now (the admin listener's aside).", sources.connectionsOpen));
    this.restarts = r.add(new CounterFamily("tray_worker_restarts_total", "Workers replaced, by reason: crash (the Worker died), reload (new code), and others as tray's features add them.", "reason"));
    for (const reason of WORKER_RESTART_REASONS) this.restarts.child(reason);
    r.add(new Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => process.memoryUsage.rss()));
    const started = performance.timeOrigin / 1000;
    r.add(new Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", () => started));
  }

  /**
   * The hot path: a response was written whole (called once per exchange by the connection).
   * `seconds`: how long since the request's head arrived.
   */
  exchangeFinished(status: number, seconds: number): void {
    const c = this.byClass[((status / 100) | 0) - 1];
    if (c !== undefined) c.value++;
    this.duration.observe(seconds);
  }

  /** A Worker was replaced (pool.ts's onWorkerRestart); off the hot path. */
  workerRestarted(reason: string): void {
    this.restarts.child(reason).value++;
  }

  render(): string {
    return this.registry.render();
  }
}
