// CONTRACT STUB — replaced by the loader work. Resolves MODULE[:OBJECT] (DESIGN.md §1) to a handler.
import type { AppSpec, FetchHandler } from "./types.ts";

/** A problem a user caused with MODULE[:OBJECT]: the message is one sentence naming the module. */
export class AppLoadError extends Error {}

export async function loadApp(spec: AppSpec): Promise<FetchHandler> {
  const path = require("node:path").resolve(spec.cwd, spec.module);
  const mod = await import(path);
  const app = mod[spec.object || "default"];
  if (typeof app === "function") return app;
  if (app && typeof app.fetch === "function") return app.fetch.bind(app);
  throw new AppLoadError(`${spec.module} has no usable ${spec.object}`);
}
