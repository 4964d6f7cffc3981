// The one error type of the app layer: a problem the user caused with MODULE[:OBJECT] or --call.
// Its message is one line, names the module as the user wrote it, and says what exists instead
// (DESIGN.md §1), so the CLI can print it as is (prefixed with "tray: ") and exit non-zero.

export class AppLoadError extends Error {
  override name = "AppLoadError";
}
