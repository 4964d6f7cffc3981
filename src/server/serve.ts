// CONTRACT STUB — replaced by the server work. serve() starts the pool, listens, and resolves when
// the server has shut down; cli.ts exits with the code it resolves to.
import type { Options } from "../options.ts";

export async function serve(options: Options): Promise<number> {
  void options;
  throw new Error("serve() is not written yet");
}
