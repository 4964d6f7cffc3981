// tsconfig.json's JSX options for the user's .tsx/.jsx files, applied by a runtime plugin.
// Why: a `bun build --compile` binary ignores tsconfig "jsx"/"jsxImportSource"/"jsxFactory" when it
// transpiles files at run time (checked on Bun 1.4.5: `<p/>` still imports react/jsx-dev-runtime,
// even with --compile-autoload-tsconfig and the tsconfig in the cwd), while the per-file pragma
// comments are honoured. So each .tsx/.jsx file outside node_modules is loaded with the pragma its
// nearest tsconfig.json (or jsconfig.json) implies, on the same first line so line numbers in
// errors stay true. A file with its own @jsx pragma, or whose tsconfig says nothing about JSX, is
// loaded unchanged. The plugin is registered once per thread (each Worker loads the app once).
import { readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { MAX_TSCONFIG_EXTENDS_DEPTH } from "./limits.ts";

interface JsxOptions {
  jsx?: string;
  jsxImportSource?: string;
  jsxFactory?: string;
  jsxFragmentFactory?: string;
}

const CONFIG_NAMES = ["tsconfig.json", "jsconfig.json"];

let installed = false;

/** Registers the plugin for this thread; later calls do nothing. */
export function installTsconfigJsx(): void {
  if (installed) return;
  installed = true;
  const pragmaByDirectory = new Map<string, string>();
  Bun.plugin({
    name: "tray: tsconfig JSX options",
    setup(build) {
      build.onLoad({ filter: /\.[jt]sx$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        const loader = args.path.endsWith(".tsx") ? "tsx" : "jsx";
        if (/[\\/]node_modules[\\/]/.test(args.path) || /@jsx(ImportSource|Runtime|Frag)?\s/.test(source)) {
          return { contents: source, loader };
        }
        const pragma = pragmaFor(dirname(args.path), pragmaByDirectory);
        return { contents: pragma === "" ? source : pragma + source, loader };
      });
    },
  });
}

/** The pragma comments for files in `dir` ("" for none), cached per directory. */
function pragmaFor(dir: string, cache: Map<string, string>): string {
  const cached = cache.get(dir);
  if (cached !== undefined) return cached;
  const config = nearestConfig(dir);
  const pragma = config === null ? "" : jsxPragma(readJsxOptions(config, 0));
  cache.set(dir, pragma);
  return pragma;
}

function nearestConfig(start: string): string | null {
  for (let dir = start; ; dir = dirname(dir)) {
    for (const name of CONFIG_NAMES) {
      const candidate = resolve(dir, name);
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** compilerOptions' JSX fields, the file's own over those it "extends" (TypeScript's rule). */
function readJsxOptions(configPath: string, depth: number): JsxOptions {
  if (depth > MAX_TSCONFIG_EXTENDS_DEPTH) return {};
  let config: { extends?: unknown; compilerOptions?: JsxOptions };
  try {
    config = Bun.JSONC.parse(readFileSync(configPath, "utf8")) as typeof config;
  } catch {
    return {}; // Bun itself reports a broken tsconfig when it resolves imports; not ours to judge.
  }
  const parents = typeof config.extends === "string" ? [config.extends] : Array.isArray(config.extends) ? config.extends : [];
  let options: JsxOptions = {};
  for (const parent of parents) {
    if (typeof parent !== "string") continue;
    const parentPath = resolveExtends(parent, dirname(configPath));
    if (parentPath !== null) options = { ...options, ...readJsxOptions(parentPath, depth + 1) };
  }
  const own = config.compilerOptions ?? {};
  for (const key of ["jsx", "jsxImportSource", "jsxFactory", "jsxFragmentFactory"] as const) {
    if (typeof own[key] === "string") options[key] = own[key];
  }
  return options;
}

function resolveExtends(spec: string, fromDir: string): string | null {
  if (spec.startsWith(".") || isAbsolute(spec)) {
    const path = resolve(fromDir, spec);
    for (const candidate of [path, path + ".json"]) {
      if (statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    }
    return null;
  }
  try {
    return Bun.resolveSync(spec, fromDir);
  } catch {
    return null;
  }
}

/** The pragma that means what the options mean; "" when they mean Bun's default. */
function jsxPragma(options: JsxOptions): string {
  const mode = options.jsx?.toLowerCase();
  if (mode === "react") {
    // Classic runtime: calls to jsxFactory (React.createElement by default).
    let pragma = "/** @jsxRuntime classic */ ";
    if (options.jsxFactory) pragma += `/** @jsx ${options.jsxFactory} */ `;
    if (options.jsxFragmentFactory) pragma += `/** @jsxFrag ${options.jsxFragmentFactory} */ `;
    return pragma;
  }
  if (options.jsxImportSource && mode !== "preserve" && mode !== "react-native") {
    return `/** @jsxImportSource ${options.jsxImportSource} */ `;
  }
  return "";
}
