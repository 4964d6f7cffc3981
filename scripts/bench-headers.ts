// What a request's header fields cost the Worker to build: `bun scripts/bench-headers.ts`.
// A measurement, not a test; bounded (the largest case is 8,000 names, well under a second).
//
// Strategy: issue 13 item 5 found 32,919 distinct names costing 3.3 s of Worker CPU. This times
// the ways a Request's Headers can be filled (append one by one as fetch-interface.ts does, a
// [name, value][] init, a record init, a standalone Headers) for N distinct names, and the same
// N lines under ONE name as a control. If every way doubles ~4x when N doubles, the cost is in
// Bun's Headers itself (its uncommon-name list is searched linearly on each append), not in how
// tray calls it, and the only fix from JS is to bound N: --max-request-headers.

const SIZES = [100, 500, 1000, 2000, 4000, 8000];

function fields(n: number, distinct: boolean): string[] {
  const raw: string[] = [];
  for (let i = 0; i < n; i++) raw.push(distinct ? `x-field-${i}` : "x-field", "v");
  return raw;
}

const ways: [string, (raw: string[]) => unknown][] = [
  ["request.headers.append", (raw) => {
    const r = new Request("http://a.example/");
    for (let i = 0; i < raw.length; i += 2) r.headers.append(raw[i], raw[i + 1]);
    return r;
  }],
  ["init [name, value][]", (raw) => {
    const pairs: [string, string][] = [];
    for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
    return new Request("http://a.example/", { headers: pairs });
  }],
  ["init record", (raw) => {
    const o: Record<string, string> = {};
    for (let i = 0; i < raw.length; i += 2) o[raw[i]] = raw[i + 1];
    return new Request("http://a.example/", { headers: o });
  }],
];

function ms(f: () => unknown): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

console.log(`Bun ${Bun.version}; ms to build one Request's headers (best of 3)`);
console.log(["N", ...ways.map(([name]) => name), "append, one name (control)"].map((s) => s.padStart(28)).join(""));
for (const n of SIZES) {
  const distinct = fields(n, true);
  const same = fields(n, false);
  const row = ways.map(([, f]) => Math.min(ms(() => f(distinct)), ms(() => f(distinct)), ms(() => f(distinct))));
  row.push(Math.min(ms(() => ways[0][1](same)), ms(() => ways[0][1](same))));
  console.log([String(n), ...row.map((x) => x.toFixed(2))].map((s) => s.padStart(28)).join(""));
}
