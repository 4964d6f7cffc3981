// --help, generated from OPTION_TABLE: no option's text is written twice.
// Strategy: a fixed usage paragraph, then each group's entries in table order, each as its
// synopsis (optionSynopsis) and its help sentences with "No effect in tray.", "Default: ..." and
// "May be repeated." appended, word-wrapped to HELP_WIDTH columns; then the closing notes.
import { OPTION_TABLE } from "./table.ts";
import type { OptionGroup, OptionSpec } from "./table.ts";

const GROUP_TITLES: Record<OptionGroup, string> = {
  standard: "Standard options",
  proxy: "Proxy options",
  tuning: "Tuning options",
  logging: "Logging and development options (not in Waitress)",
  operations: "Operations options (not in Waitress)",
  compat: "Compatibility options (accepted so waitress-serve command lines work)",
};

const HELP_WIDTH = 78;
const HELP_INDENT = "        ";

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines;
}

/** The option as written in --help: `--port=PORT`, `--[no-]ipv4`, `-h, --help`. */
export function optionSynopsis(o: OptionSpec): string {
  if (o.type === "bool") return `--[no-]${o.name}`;
  const long = o.type === "action" ? `--${o.name}` : o.bare !== undefined ? `--${o.name}[=${o.metavar}]` : `--${o.name}=${o.metavar}`;
  return o.short ? `${o.short}, ${long}` : long;
}

export function renderHelp(): string {
  const out: string[] = [
    "Usage: tray [OPTIONS] MODULE[:OBJECT]",
    "",
    ...wrap(
      "Serve a fetch-style or Node-style (req, res) app over HTTP/1.1. MODULE is a file relative to the current directory (app.ts, src/server.js; a directory means its index file) or a package name; OBJECT is a dotted path to the app inside it (default: the default export): a function (request, info) => Response, an object with a fetch method, or a Node-style app (see --interface). Options may also be written --name VALUE.",
      "",
    ),
  ];
  for (const group of Object.keys(GROUP_TITLES) as OptionGroup[]) {
    out.push("", `${GROUP_TITLES[group]}:`);
    for (const o of OPTION_TABLE.filter((x) => x.group === group)) {
      out.push("", `    ${optionSynopsis(o)}`);
      const notes = [o.help];
      if (o.noop) notes.push("No effect in tray.");
      if (o.shownDefault !== "") notes.push(`Default: ${o.shownDefault}.`);
      if (o.repeatable) notes.push("May be repeated.");
      out.push(...wrap(notes.join(" "), HELP_INDENT));
    }
  }
  out.push("");
  for (const note of [
    "Byte sizes are whole numbers of bytes, or with a K, M or G suffix for KiB, MiB or GiB.",
    "Environment: PORT, when set, is the default for --port.",
    "Exit status: 0 after a clean shutdown, 2 for a usage error, another non-zero value for other failures.",
  ]) out.push(...wrap(note, ""));
  out.push("");
  return out.join("\n");
}
