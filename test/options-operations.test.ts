// The operations options (issue 15 items 2-6, issue 13 item 9): --worker-timeout,
// --request-timeout, --drain-delay, --max-requests, --max-requests-jitter, --worker-max-memory.
// Their defaults, their values, --help, and one sentence (exit 2 from the CLI) for a bad value.
import { describe, expect, test } from "bun:test";
import { parseOptions } from "../src/options.ts";
import { renderHelp } from "../src/options/help.ts";
import type { Options } from "../src/options/types.ts";
import { UsageError } from "../src/options/usage-error.ts";

const parseApp = (...argv: string[]) => parseOptions(["app.ts", ...argv], {});

function usageError(argv: string[]): string {
  try {
    parseOptions(["app.ts", ...argv], {});
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

describe("operations options", () => {
  test("defaults: a 30 s worker timeout (gunicorn's), everything else off", () => {
    expect(parseApp()).toMatchObject({ workerTimeout: 30, requestTimeout: 0, drainDelay: 0, maxRequests: 0, maxRequestsJitter: 0, workerMaxMemory: 0 });
  });

  const CASES: Array<[string, keyof Options, number]> = [
    ["--worker-timeout=0", "workerTimeout", 0],
    ["--worker-timeout=5", "workerTimeout", 5],
    ["--request-timeout=60", "requestTimeout", 60],
    ["--drain-delay=10", "drainDelay", 10],
    ["--max-requests=1000", "maxRequests", 1000],
    ["--max-requests-jitter=50", "maxRequestsJitter", 50],
    ["--worker-max-memory=512", "workerMaxMemory", 512],
  ];
  for (const [arg, key, expected] of CASES) {
    test(`${arg} sets ${key}`, () => {
      expect(parseApp(arg)[key] as unknown).toBe(expected);
    });
  }

  const BAD: Array<[string, string]> = [
    ["--worker-timeout=-1", "--worker-timeout must be a whole number of seconds"],
    ["--worker-timeout=2.5", "--worker-timeout must be a whole number of seconds"],
    ["--request-timeout=soon", "--request-timeout must be a whole number of seconds"],
    ["--drain-delay=1e3", "--drain-delay must be a whole number of seconds"],
    ["--max-requests=many", "--max-requests must be a whole number"],
    ["--max-requests-jitter=-3", "--max-requests-jitter must be a whole number"],
    ["--worker-max-memory=1G", "--worker-max-memory must be a whole number of MiB"],
    ["--worker-max-memory=", "--worker-max-memory must be a whole number of MiB"],
  ];
  for (const [arg, start] of BAD) {
    test(`${arg} is refused in one sentence`, () => {
      const message = usageError([arg]);
      expect(message.startsWith(start)).toBe(true);
      expect(message.split(". ").length).toBe(1);
    });
  }

  test("--help lists each of them", () => {
    const help = renderHelp();
    for (const line of ["--worker-timeout=SECONDS", "--request-timeout=SECONDS", "--drain-delay=SECONDS", "--max-requests=INT", "--max-requests-jitter=INT", "--worker-max-memory=MB"]) {
      expect(help).toContain(`    ${line}\n`);
    }
  });
});
