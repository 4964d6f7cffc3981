// Reading argv: the command line, left to right, into raw strings per OPTION_TABLE entry.
// Strategy (getopt_long without abbreviations): --name=VALUE, --name VALUE, --no-name for
// booleans, -h, "--" ends the options, positionals anywhere (GNU style). Nothing is converted
// here: values stay strings for the entries' parsers, run by parseOptions() (../options.ts).
// The first mistake is kept, not thrown, because --help and --version answer whatever else is
// on the line; an unknown option names the closest real one by edit distance.
import { OPTION_TABLE } from "./table.ts";
import type { OptionSpec } from "./table.ts";
import { UsageError, quote } from "./usage-error.ts";

export const BY_NAME = new Map(OPTION_TABLE.map((o) => [o.name, o]));
const BY_SHORT = new Map(OPTION_TABLE.filter((o) => o.short).map((o) => [o.short as string, o]));

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

function unknownOption(arg: string): UsageError {
  const name = arg.replace(/^-+/, "").split("=")[0];
  const names = OPTION_TABLE.flatMap((o) => (o.type === "bool" ? [o.name, `no-${o.name}`] : [o.name]));
  let best = "";
  let bestDistance = Infinity;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  const shown = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
  const hint = bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? `; did you mean '--${best}'?` : ".";
  return new UsageError(`unknown option ${quote(shown)}${hint}`);
}

export interface Scanned {
  raw: Map<OptionSpec, string[]>; // every value given, in order (bools: "true"/"false")
  positionals: string[];
  help: boolean;
  version: boolean;
  firstError: UsageError | null; // reported only when neither --help nor --version was given
}

export function scan(argv: string[]): Scanned {
  const s: Scanned = { raw: new Map(), positionals: [], help: false, version: false, firstError: null };
  const fail = (e: UsageError) => {
    s.firstError ??= e;
  };
  const record = (o: OptionSpec, v: string) => {
    const list = s.raw.get(o) ?? [];
    list.push(v);
    s.raw.set(o, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      s.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      s.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? null : arg.slice(eq + 1);
    let spec = flag.startsWith("--") ? BY_NAME.get(flag.slice(2)) : BY_SHORT.get(flag);
    let negated = false;
    if (!spec && flag.startsWith("--no-")) {
      const base = BY_NAME.get(flag.slice(5));
      if (base?.type === "bool") [spec, negated] = [base, true];
    }
    if (!spec) {
      fail(unknownOption(arg));
      continue;
    }
    if (spec.bare !== undefined && inline === null) {
      record(spec, spec.bare);
      continue;
    }
    if (spec.type === "action" || spec.type === "bool") {
      if (inline !== null) {
        const forms = spec.type === "bool" ? `; write --${spec.name} or --no-${spec.name}` : "";
        fail(new UsageError(`${flag} takes no value${forms}.`));
        continue;
      }
      if (spec.key === "help") s.help = true;
      else if (spec.key === "version") s.version = true;
      else record(spec, negated ? "false" : "true");
      continue;
    }
    // A valued option: --name=VALUE or --name VALUE (as getopt). An option-looking next word is
    // not taken as the value: "--url-prefix --port=1" is a forgotten value, not a prefix.
    let value = inline;
    if (value === null) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        fail(new UsageError(`${flag} needs a value, as in --${spec.name}=${spec.metavar}.`));
        continue;
      }
      value = next;
      i++;
    }
    record(spec, value);
  }
  return s;
}
