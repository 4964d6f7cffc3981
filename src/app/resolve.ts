// MODULE -> one absolute file (DESIGN.md §1). Strategy, in Node's order: MODULE as a file relative
// to the cwd, then MODULE + each extension, then MODULE as a directory (package.json "exports" ".",
// "module", "main", then index + extension); last, a bare name as a package from the cwd's
// node_modules. Every place looked at is remembered, so "not found" can list them and what the
// directory holds instead. Resolution is by hand (not Bun.resolveSync) for local paths because
// that list is the error message; packages go through Bun.resolveSync, which knows "exports".
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, resolve } from "node:path";
import { displayPath, listNames, oneLine } from "./describe.ts";
import { AppLoadError } from "./errors.ts";

/** Tried in this order after the exact name: TypeScript first (tray's users write TS). */
export const MODULE_EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".jsx"] as const;

/** package.json "exports" conditions tray satisfies, as Bun does for an import. */
const EXPORT_CONDITIONS = new Set(["bun", "import", "module", "node", "require", "default"]);

const EXTENSION_GROUP = `{${MODULE_EXTENSIONS.map((ext) => ext.slice(1)).join(",")}}`;

export function resolveModule(module: string, cwd: string): string {
  const base = resolve(cwd, module);
  const lookedFor: string[] = [];
  const found = findFile(base, cwd, lookedFor) ?? findDirectory(base, module, cwd, lookedFor);
  if (found !== null) return found;
  if (isBareSpecifier(module)) {
    const pkg = findPackage(module, cwd);
    if (pkg !== null) return pkg;
    lookedFor.push(`package "${module}" in node_modules`);
  }
  throw new AppLoadError(
    `cannot find module ${JSON.stringify(module)} in ${cwd} (looked for ${lookedFor.join(", ")}); ${whatIsThere(base, cwd)}`,
  );
}

/** `hono`, `@scope/app`, `pkg/sub`: not relative, not absolute. A plain `app.ts` is both a path and a name. */
function isBareSpecifier(module: string): boolean {
  return !module.startsWith(".") && !isAbsolute(module) && !module.includes("\\");
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** The exact file, else the file with each extension added. */
function findFile(base: string, cwd: string, lookedFor: string[]): string | null {
  const shown = displayPath(base, cwd);
  lookedFor.push(shown, `${shown}.${EXTENSION_GROUP}`);
  if (isFile(base)) return base;
  for (const ext of MODULE_EXTENSIONS) if (isFile(base + ext)) return base + ext;
  return null;
}

function findIndex(dir: string, cwd: string, lookedFor: string[]): string | null {
  lookedFor.push(`${displayPath(resolve(dir, "index"), cwd)}.${EXTENSION_GROUP}`);
  for (const ext of MODULE_EXTENSIONS) {
    const candidate = resolve(dir, "index" + ext);
    if (isFile(candidate)) return candidate;
  }
  return null;
}

/** A directory: its package.json entry points in Bun's order, then its index file. */
function findDirectory(dir: string, module: string, cwd: string, lookedFor: string[]): string | null {
  if (!isDirectory(dir)) {
    lookedFor.push(`${displayPath(resolve(dir, "index"), cwd)}.${EXTENSION_GROUP}`);
    return null;
  }
  const manifest = resolve(dir, "package.json");
  if (isFile(manifest)) {
    for (const target of packageEntryPoints(readManifest(manifest, module, cwd))) {
      const base = resolve(dir, target);
      const found = findFile(base, cwd, lookedFor) ?? (isDirectory(base) ? findIndex(base, cwd, lookedFor) : null);
      if (found !== null) return found;
    }
  }
  return findIndex(dir, cwd, lookedFor);
}

function readManifest(path: string, module: string, cwd: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new AppLoadError(
      `cannot load module ${JSON.stringify(module)}: ${displayPath(path, cwd)} is not valid JSON (${oneLine(why)})`,
    );
  }
}

/** "exports" ".", then "module", then "main": the order Bun uses for an import. */
function packageEntryPoints(manifest: Record<string, unknown>): string[] {
  const targets: string[] = [];
  const exported = exportTarget(manifest.exports);
  if (exported !== null) targets.push(exported);
  for (const field of ["module", "main"]) {
    const value = manifest[field];
    if (typeof value === "string" && value !== "") targets.push(value);
  }
  return targets;
}

/** The "." entry of an "exports" field: a string, a fallback array, or conditions in key order. */
function exportTarget(exports: unknown): string | null {
  if (typeof exports === "string") return exports;
  if (Array.isArray(exports)) {
    for (const entry of exports) {
      const target = exportTarget(entry);
      if (target !== null) return target;
    }
    return null;
  }
  if (typeof exports !== "object" || exports === null) return null;
  const map = exports as Record<string, unknown>;
  const keys = Object.keys(map);
  if (keys.some((key) => key.startsWith("."))) return exportTarget(map["."]);
  for (const key of keys) {
    if (!EXPORT_CONDITIONS.has(key)) continue;
    const target = exportTarget(map[key]);
    if (target !== null) return target;
  }
  return null;
}

/** A package from cwd's node_modules (and the parents', as Node does). Built-ins are not apps. */
function findPackage(name: string, cwd: string): string | null {
  let resolved: string;
  try {
    resolved = Bun.resolveSync(name, cwd);
  } catch {
    return null;
  }
  if (!isAbsolute(resolved)) {
    throw new AppLoadError(`module ${JSON.stringify(name)} is a built-in module of the runtime (${resolved}), not an app`);
  }
  return resolved;
}

/** The "instead" half of a not-found line: the modules in the directory MODULE pointed into. */
function whatIsThere(base: string, cwd: string): string {
  const dir = dirname(base);
  const shown = displayPath(dir, cwd);
  if (!isDirectory(dir)) return `directory ${shown} does not exist`;
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((name) => (MODULE_EXTENSIONS as readonly string[]).includes(extname(name)));
  } catch {
    return `directory ${shown} cannot be read`;
  }
  entries.sort();
  const where = shown === "." ? "the directory" : `directory ${shown}`;
  if (entries.length === 0) return `${where} has no ${MODULE_EXTENSIONS.join(" ")} files`;
  return `${where} has: ${listNames(entries.map((name) => basename(name)))}`;
}
