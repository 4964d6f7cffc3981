// The executable's entry point: argv -> Options -> serve() -> exit status (DESIGN.md §2).
//
// Strategy: citty holds the command's identity (name, version, description) and runs it, but
// argv is parsed by parseOptions() from src/options.ts, whose OPTION_TABLE (src/options/table.ts)
// is the one source of names, help and validation. citty is not given the options because it
// fights Waitress's command line: its parser (node:util parseArgs with strict: false) accepts
// unknown options silently, keeps only the last of a repeated option (--listen), turns any --no-X
// into X=false even for options that are not booleans, exits 1 (not 2) on usage errors after
// printing its own usage, and renders its own --help. So citty runs the command, and the table does the rest.
//
// Every problem the user can cause on the command line is a UsageError: one line on stderr,
// exit 2, before anything listens. Anything else escaping serve() is a bug in tray, said so.
import { defineCommand, runCommand } from "citty";
import packageJson from "../package.json" with { type: "json" };
import { parseOptions } from "./options.ts";
import { renderHelp } from "./options/help.ts";
import { resolveListenerNames } from "./options/listen.ts";
import type { Options } from "./options/types.ts";
import { UsageError } from "./options/usage-error.ts";
import { serve } from "./server/serve.ts";
import { formatLogLine } from "./server/log.ts";

/** Exit statuses (the serve() status is passed through). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bundled at build time (bun build inlines the JSON import), so the binary needs no package.json. */
export const VERSION: string = packageJson.version;

function versionLine(): string {
  return `tray ${VERSION} (bun ${Bun.version})\n`;
}

/** Writes and waits until the bytes are handed to the OS, so process.exit() cannot cut them
 *  off; resolves false if they could not be written (stdout on a full disk: --help > /dev/full). */
function write(stream: NodeJS.WriteStream, text: string): Promise<boolean> {
  return new Promise((resolve) => {
    stream.once("error", () => resolve(false));
    stream.write(text, (error) => resolve(!error));
  });
}

async function usageFailure(error: UsageError): Promise<number> {
  // One line, GNU style, so a supervisor's log shows the whole story in one entry.
  await write(process.stderr, `tray: ${error.message} Try 'tray --help'.\n`);
  return EXIT_USAGE;
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv, process.env);
    if (options.help) {
      return (await write(process.stdout, renderHelp())) ? EXIT_OK : EXIT_FAILURE;
    }
    if (options.version) {
      return (await write(process.stdout, versionLine())) ? EXIT_OK : EXIT_FAILURE;
    }
    for (const warning of options.warnings) await write(process.stderr, formatLogLine(options.logFormat, `tray: warning: ${warning}`, "warning"));
    // Host names become the addresses they resolve to (Waitress binds every getaddrinfo() result);
    // a name that does not resolve is a usage error, found before anything listens.
    options.listeners = await resolveListenerNames(options);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error);
    throw error;
  }
  try {
    return await serve(options);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error);
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await write(process.stderr, `tray: internal error (a bug in tray; please report it): ${detail}\n`);
    return EXIT_FAILURE;
  }
}

const command = defineCommand({
  meta: {
    name: "tray",
    version: VERSION,
    description: packageJson.description,
  },
  run: async ({ rawArgs }) => {
    process.exit(await main(rawArgs));
  },
});

// process.argv is [runtime, script, ...args] in `bun src/cli.ts` and in the compiled binary alike.
await runCommand(command, { rawArgs: process.argv.slice(2) });
