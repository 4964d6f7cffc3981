// Imports the resolved file by absolute path (DESIGN.md §3) and turns whatever Bun throws into
// one AppLoadError line: BuildMessage (syntax error, with file:line:col), ResolveMessage (a missing
// dependency, with who imported it), or an Error thrown while the module (or a dependency) ran,
// located by its first stack frame. It also says whether the module is CommonJS, because then
// OBJECT is looked up in module.exports (which is what `this` must be for a method like fetch).
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { describeThrown, displayPath, oneLine, sourceLocation } from "./describe.ts";
import { AppLoadError } from "./errors.ts";

export interface LoadedModule {
  namespace: Record<string, unknown>;
  /** module.exports when the file is CommonJS, else undefined. */
  commonjsExports: unknown;
  isCommonJS: boolean;
}

const requireFromHere = createRequire(import.meta.url);

export async function importModule(absPath: string, module: string, cwd: string): Promise<LoadedModule> {
  let namespace: Record<string, unknown>;
  try {
    // A file URL, not the bare path: "#" and "%" in a directory name stay part of the path.
    namespace = (await import(pathToFileURL(absPath).href)) as Record<string, unknown>;
  } catch (thrown) {
    throw new AppLoadError(`${JSON.stringify(module)} failed to load: ${describeImportFailure(thrown, cwd)}`);
  }
  // Bun's import() of CommonJS gives a namespace whose default is module.exports; require() of the
  // (now cached) file returns module.exports for CommonJS and the namespace itself for ESM.
  let viaRequire: unknown = namespace;
  try {
    viaRequire = requireFromHere(absPath);
  } catch {
    // An ES module require() cannot take (top-level await): it is not CommonJS.
  }
  const isCommonJS = viaRequire !== namespace;
  return { namespace, commonjsExports: isCommonJS ? viaRequire : undefined, isCommonJS };
}

interface BunBuildMessage {
  message: string;
  position?: { file?: string; line?: number; column?: number } | null;
}

interface BunResolveMessage {
  message: string;
  specifier?: string;
  referrer?: string;
}

function describeImportFailure(thrown: unknown, cwd: string): string {
  // Several build errors (a file with two syntax errors) arrive as one AggregateError.
  if (thrown instanceof AggregateError && thrown.errors.length > 0) {
    const more = thrown.errors.length - 1;
    return describeImportFailure(thrown.errors[0], cwd) + (more > 0 ? ` (and ${more} more)` : "");
  }
  const name = thrown instanceof Object ? ((thrown.constructor as { name?: string } | undefined)?.name ?? "") : "";
  if (name === "BuildMessage") {
    const build = thrown as BunBuildMessage;
    const at = build.position?.file ? ` at ${sourceLocation(build.position.file, build.position.line, build.position.column, cwd)}` : "";
    return `syntax error${at}: ${oneLine(build.message)}`;
  }
  if (name === "ResolveMessage") {
    const missing = thrown as BunResolveMessage;
    if (missing.specifier && missing.referrer) {
      const hint = /^[./]/.test(missing.specifier) ? "" : " (is it installed in node_modules?)";
      return `cannot find ${JSON.stringify(missing.specifier)} imported from ${displayPath(missing.referrer, cwd)}${hint}`;
    }
    return oneLine(missing.message);
  }
  // A SyntaxError from linking ("Export named 'x' not found") is not a throw from user code.
  const verb = thrown instanceof SyntaxError ? "" : "it threw ";
  return verb + describeThrown(thrown, cwd);
}
