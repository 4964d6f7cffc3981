// parseOptions(): argv and the environment in, Options out (DESIGN.md §2). The CLI, --help and
// validation are all driven from OPTION_TABLE (src/options/table.ts); nothing else parses argv.
//
// Strategy (Waitress's adjustments.py, stricter): argv is read once, left to right, into raw
// strings keyed by table entry; each raw value is then converted by its entry's parser, which
// throws a UsageError with one sentence naming the option, the bad value and what is accepted;
// then the cross-option rules (--listen vs --host/--port, --unix-socket alone, proxy settings
// need --trusted-proxy, ...) run, and the listen addresses are derived. parseOptions() is pure
// (argv and env in, Options out); resolveListenerNames() is the one step that does I/O (DNS).
//
// Where each step lives, under src/options/: types.ts (Options), table.ts (OPTION_TABLE and
// defaults), argv.ts (reading argv), values.ts (value parsers), listen.ts (listen addresses),
// help.ts (--help), usage-error.ts (UsageError).
//
// Where tray is stricter than Waitress (every such case is a UsageError, exit 2):
// - integers are plain decimal digits within a stated range (Waitress takes int(): "+1", "1_0",
//   "-5", and --port=70000 silently binds port 4464); --threads=0 and similar are refused;
// - ports are numbers, not service names; IPv6 addresses in --listen need brackets;
// - options cannot be abbreviated (getopt accepts any unique prefix, e.g. --thr=2);
// - booleans take no value (--ipv6=false is refused, as getopt does, with the --no- form named);
// - --ident, --server-name, --url-scheme, --url-prefix and --trusted-proxy are checked against
//   the grammar of where they end up (a CR/LF in --ident would split the Server header);
// - --url-prefix=/ means "no prefix" (Waitress keeps "/" as SCRIPT_NAME, which no path can match).
// And more lenient in three harmless ways: options may follow the app argument (GNU style),
// byte sizes take K/M/G suffixes (binary), and --trusted-proxy-headers accepts commas too.
import { BY_NAME, scan } from "./options/argv.ts";
import { UNIX_PATH_MAX, splitListen, tcpListeners } from "./options/listen.ts";
import { PORT_MAX, defaultOptions } from "./options/table.ts";
import type { SettableKey } from "./options/table.ts";
import type { Options } from "./options/types.ts";
import { UsageError, quote } from "./options/usage-error.ts";
import { UINT_RE, parseApp } from "./options/values.ts";

/** Parses argv (without the executable and script) and the environment into Options; throws UsageError. */
export function parseOptions(argv: string[], env: Record<string, string | undefined>): Options {
  const s = scan(argv);
  const options = defaultOptions();
  if (s.help || s.version) {
    // --help and --version answer whatever else is on the line, as GNU tools do.
    options.help = s.help;
    options.version = s.version;
    return options;
  }
  if (s.firstError) throw s.firstError;

  const given = (key: SettableKey) => [...s.raw.keys()].some((o) => o.key === key);
  const target = options as unknown as Record<string, unknown>;
  for (const [spec, values] of s.raw) {
    if (spec.type === "bool") {
      target[spec.key] = values[values.length - 1] === "true";
    } else if (spec.repeatable) {
      target[spec.key] = values.flatMap((v) => spec.parse!(v) as string[]);
    } else {
      // The last occurrence wins (getopt and Waitress do the same); every occurrence must be valid.
      for (const v of values) target[spec.key] = spec.parse!(v);
    }
  }

  // The app: positional or --app, exactly once.
  const apps = [...(s.raw.get(BY_NAME.get("app")!) ?? []), ...s.positionals];
  if (apps.length === 0) {
    throw new UsageError(`no app given: name a module, as in 'tray app.ts' or 'tray --app=app.ts:handler'.`);
  }
  if (apps.length > 1) {
    throw new UsageError(`give one app only, not ${apps.map(quote).join(" and ")}.`);
  }
  options.app = parseApp(apps[0]);

  // $PORT (Heroku, Cloud Run, Fly.io...) is the default port: --port overrides it. It is read
  // (and checked) only when a TCP address needs the default port.
  const defaultPort = (): number => {
    const envPort = env.PORT;
    if (given("port") || envPort === undefined || envPort === "") return options.port;
    const n = UINT_RE.test(envPort) ? Number(envPort) : NaN;
    if (!(n >= 0 && n <= PORT_MAX)) {
      throw new UsageError(`the PORT environment variable is ${quote(envPort)}, which is not a port (a whole number from 0 to ${PORT_MAX}).`);
    }
    options.port = n;
    return n;
  };

  // Where to listen (Waitress adjustments.py __init__: the same exclusions).
  if (given("unixSocket")) {
    if (given("host") || given("port") || given("listen")) {
      throw new UsageError(`--unix-socket cannot be combined with --host, --port or --listen: tray listens on the Unix socket alone.`);
    }
    if (process.platform === "win32") throw new UsageError(`--unix-socket is not available on Windows.`);
    const path = options.unixSocket as string;
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) {
      throw new UsageError(`--unix-socket path is ${Buffer.byteLength(path)} bytes long; the system allows at most ${UNIX_PATH_MAX}, so use a shorter path.`);
    }
    options.listeners = [{ kind: "unix", path }];
  } else {
    if (!options.ipv4 && !options.ipv6) {
      throw new UsageError(`--no-ipv4 and --no-ipv6 together leave no address family to listen on.`);
    }
    if (given("listen")) {
      if (given("host") || given("port")) {
        throw new UsageError(`--listen cannot be combined with --host or --port; put the host and port in --listen instead.`);
      }
      options.listeners = tcpListeners(
        options.listen.map((v) => ({ ...splitListen(v, defaultPort), source: `--listen=${v}`, brackets: true })),
        options.ipv4,
        options.ipv6,
      );
    } else {
      // --host takes a bare IPv6 address too (Waitress builds "host:port" and splits on the last ':').
      options.listeners = tcpListeners(
        [{ host: options.host, port: defaultPort(), source: given("host") ? `--host=${options.host}` : `the default host ${options.host}`, brackets: false }],
        options.ipv4,
        options.ipv6,
      );
    }
  }

  // Proxy settings (Waitress adjustments.py: the same rules, the same implied default).
  if (options.trustedProxy === null) {
    if (given("trustedProxyCount")) throw new UsageError(`--trusted-proxy-count has no meaning without --trusted-proxy.`);
    if (given("trustedProxyHeaders")) throw new UsageError(`--trusted-proxy-headers has no meaning without --trusted-proxy.`);
  } else if (options.trustedProxyHeaders.length === 0) {
    options.trustedProxyHeaders = ["x-forwarded-proto"];
    options.warnings.push(
      `--trusted-proxy was given without --trusted-proxy-headers, so only X-Forwarded-Proto is trusted (as in Waitress); name the headers to trust explicitly.`,
    );
  }
  if (options.proxyProtocol && options.trustedProxy === null) {
    throw new UsageError(`--proxy-protocol needs --trusted-proxy: name the proxy whose connections begin with a PROXY header.`);
  }
  const headers = [...new Set(options.trustedProxyHeaders)];
  options.trustedProxyHeaders = headers;
  if (headers.includes("forwarded") && headers.length > 1) {
    throw new UsageError(`--trusted-proxy-headers cannot trust both Forwarded and X-Forwarded-* headers; choose one kind.`);
  }

  if (given("accessLogFormat") && options.accessLog === null) {
    throw new UsageError(`--access-log-format has no meaning without --access-log.`);
  }

  if (given("sendBytes")) {
    options.warnings.push(`--send-bytes is deprecated (as in Waitress) and has no effect.`);
  }
  return options;
}
