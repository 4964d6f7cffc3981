// The one error a user's command line or environment can cause, and how its sentences quote values.
// Strategy: every check under src/options/ throws UsageError with one sentence naming the option,
// the bad value (written by quote()) and what is accepted; the CLI prints it and exits 2. It
// lives alone so that every options file can throw it without importing another (no cycles).

/** A bad command line or environment: `message` is one sentence for the user; the CLI exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A value as a message shows it: 'in single quotes', or as a JSON string when it holds characters that need escaping. */
export function quote(raw: string): string {
  return JSON.stringify(raw).slice(1, -1) === raw ? `'${raw}'` : JSON.stringify(raw);
}
