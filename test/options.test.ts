// The option table and parseOptions(): every option, its default (Waitress's), every --no- form,
// every class of bad value, $PORT, listen-address derivation and --url-prefix normalisation.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { parseOptions } from "../src/options.ts";
import { optionSynopsis, renderHelp } from "../src/options/help.ts";
import { resolveListenerNames } from "../src/options/listen.ts";
import type { HostLookup } from "../src/options/listen.ts";
import { OPTION_TABLE, defaultOptions } from "../src/options/table.ts";
import type { Options } from "../src/options/types.ts";
import { UsageError } from "../src/options/usage-error.ts";
import { PROXY_HEADER_NAMES, normaliseUrlPrefix } from "../src/options/values.ts";

const parse = (...argv: string[]) => parseOptions(argv, {});
const parseApp = (...argv: string[]) => parseOptions(["app.ts", ...argv], {});

function usageError(argv: string[], env: Record<string, string | undefined> = {}): string {
  try {
    parseOptions(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error(`expected a UsageError for ${JSON.stringify(argv)}`);
}

describe("defaults", () => {
  // waitress/adjustments.py (3.x) class attributes, with tray's ident/server_name (DESIGN.md §2).
  const WAITRESS_DEFAULTS: Partial<Options> = {
    host: "0.0.0.0",
    port: 8080,
    ipv4: true,
    ipv6: true,
    trustedProxy: null,
    trustedProxyCount: 1,
    trustedProxyHeaders: [],
    logUntrustedProxyHeaders: false,
    clearUntrustedProxyHeaders: true,
    urlScheme: "http",
    urlPrefix: "",
    ident: "tray",
    backlog: 1024,
    recvBytes: 8192,
    sendBytes: 1,
    outbufOverflow: 1048576,
    outbufHighWatermark: 16777216,
    inbufOverflow: 524288,
    connectionLimit: 100,
    cleanupInterval: 30,
    channelTimeout: 120,
    logSocketErrors: true,
    maxRequestHeaderSize: 262144,
    maxRequestHeaders: 100,
    maxRequestBodySize: 1073741824,
    exposeTracebacks: false,
    unixSocket: null,
    unixSocketPerms: 0o600,
    asyncoreLoopTimeout: 1,
    asyncoreUsePoll: false,
    channelRequestLookahead: 0,
    serverName: "tray.invalid",
  };

  test("an app alone gives Waitress's defaults", () => {
    const o = parseApp();
    expect(o).toMatchObject(WAITRESS_DEFAULTS);
    expect(o).toMatchObject({ app: "app.ts", call: false, interface: "auto", listen: [], shutdownTimeout: 30, help: false, version: false });
    // Not Waitress's 4: Waitress's threads share one app, tray's Workers are copies of it.
    expect(o.threads).toBe(1);
    expect(o.headerTimeout).toBe(20);
    // Beyond Waitress, off or Waitress-like by default: no access log, plain-text lines, no reload.
    expect(o).toMatchObject({ accessLog: null, accessLogFormat: "common", logFormat: "text", reload: false });
    expect(o.warnings).toEqual([]);
  });

  test("the default listener is 0.0.0.0:8080 only, as in Waitress", () => {
    expect(parseApp().listeners).toEqual([{ kind: "tcp", host: "0.0.0.0", port: 8080 }]);
  });

  test("defaultOptions() returns fresh lists each time", () => {
    const a = defaultOptions();
    a.listen.push("x");
    expect(defaultOptions().listen).toEqual([]);
  });

  const waitressDir = "/usr/lib/python3/dist-packages/waitress";
  test.skipIf(!existsSync(`${waitressDir}/adjustments.py`))("defaults match the installed Waitress's Adjustments", () => {
    const script = `import sys, json; sys.path.insert(0, "/usr/lib/python3/dist-packages")
from waitress.adjustments import Adjustments as A
print(json.dumps({k: getattr(A, k) for k in ["host","port","backlog","recv_bytes","send_bytes","outbuf_overflow","outbuf_high_watermark","inbuf_overflow","connection_limit","cleanup_interval","channel_timeout","log_socket_errors","max_request_header_size","max_request_body_size","expose_tracebacks","unix_socket_perms","asyncore_loop_timeout","asyncore_use_poll","ipv4","ipv6","channel_request_lookahead","url_scheme","url_prefix","log_untrusted_proxy_headers"]}))`;
    const r = Bun.spawnSync(["python3", "-c", script]);
    expect(r.exitCode).toBe(0);
    const w = JSON.parse(r.stdout.toString()) as Record<string, unknown>;
    const o = parseApp() as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(w)) {
      const key = k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
      expect({ [k]: o[key] }).toEqual({ [k]: v });
    }
  });
});

describe("every option is parsed", () => {
  // [argv after the app, field, expected value]. Every table entry must appear here.
  const CASES: [string[], keyof Options, unknown][] = [
    [["--call"], "call", true],
    [["--interface=node"], "interface", "node"],
    [["--host=127.0.0.1"], "host", "127.0.0.1"],
    [["--port=9000"], "port", 9000],
    [["--listen=127.0.0.1:9000"], "listen", ["127.0.0.1:9000"]],
    [["--no-ipv4", "--host=::"], "ipv4", false],
    [["--no-ipv6"], "ipv6", false],
    [["--unix-socket=/tmp/tray.sock"], "unixSocket", "/tmp/tray.sock"],
    [["--unix-socket-perms=660"], "unixSocketPerms", 0o660],
    [["--url-scheme=https"], "urlScheme", "https"],
    [["--url-prefix=/api"], "urlPrefix", "/api"],
    [["--ident=edge/1.0"], "ident", "edge/1.0"],
    [["--server-name=example.com"], "serverName", "example.com"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=x-forwarded-for"], "trustedProxy", "10.0.0.1"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-count=2"], "trustedProxyCount", 2],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=x-forwarded-for x-forwarded-proto"], "trustedProxyHeaders", ["x-forwarded-for", "x-forwarded-proto"]],
    [["--log-untrusted-proxy-headers"], "logUntrustedProxyHeaders", true],
    [["--no-clear-untrusted-proxy-headers"], "clearUntrustedProxyHeaders", false],
    [["--threads=16"], "threads", 16],
    [["--backlog=64"], "backlog", 64],
    [["--recv-bytes=65536"], "recvBytes", 65536],
    [["--send-bytes=9000"], "sendBytes", 9000],
    [["--outbuf-overflow=2097152"], "outbufOverflow", 2097152],
    [["--outbuf-high-watermark=1M"], "outbufHighWatermark", 1048576],
    [["--inbuf-overflow=0"], "inbufOverflow", 0],
    [["--connection-limit=1000"], "connectionLimit", 1000],
    [["--cleanup-interval=5"], "cleanupInterval", 5],
    [["--channel-timeout=10"], "channelTimeout", 10],
    [["--header-timeout=5"], "headerTimeout", 5],
    [["--channel-request-lookahead=5"], "channelRequestLookahead", 5],
    [["--no-log-socket-errors"], "logSocketErrors", false],
    [["--max-request-header-size=8K"], "maxRequestHeaderSize", 8192],
    [["--max-request-headers=2000"], "maxRequestHeaders", 2000],
    [["--max-request-body-size=10MiB"], "maxRequestBodySize", 10 * 1048576],
    [["--expose-tracebacks"], "exposeTracebacks", true],
    [["--asyncore-loop-timeout=5"], "asyncoreLoopTimeout", 5],
    [["--asyncore-use-poll"], "asyncoreUsePoll", true],
    [["--shutdown-timeout=0"], "shutdownTimeout", 0],
    [["--access-log=/var/log/tray/access.log"], "accessLog", "/var/log/tray/access.log"],
    [["--access-log", "--access-log-format=combined"], "accessLogFormat", "combined"],
    [["--log-format=json"], "logFormat", "json"],
    [["--reload"], "reload", true],
    // Operations, edge half (issue 15).
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=x-forwarded-for", "--proxy-protocol"], "proxyProtocol", true],
    [["--admin-listen=127.0.0.1:9090"], "adminListen", { kind: "tcp", host: "127.0.0.1", port: 9090 }],
    [["--admin-listen=[0:0::1]:0"], "adminListen", { kind: "tcp", host: "::1", port: 0 }],
    [["--admin-listen=localhost:9090"], "adminListen", { kind: "tcp", host: "localhost", port: 9090 }],
    // Operations (more in options-operations.test.ts).
    [["--worker-timeout=5"], "workerTimeout", 5],
    [["--request-timeout=60"], "requestTimeout", 60],
    [["--drain-delay=10"], "drainDelay", 10],
    [["--max-requests=1000"], "maxRequests", 1000],
    [["--max-requests-jitter=50"], "maxRequestsJitter", 50],
    [["--worker-max-memory=512"], "workerMaxMemory", 512],
  ];

  for (const [argv, key, expected] of CASES) {
    test(`${argv.join(" ")} sets ${key}`, () => {
      expect(parseApp(...argv)[key] as unknown).toEqual(expected);
    });
  }

  test("--app sets the app", () => {
    expect(parse("--app=pkg:api.v1.handler").app).toBe("pkg:api.v1.handler");
  });

  test("--help and --version are flags that skip everything else", () => {
    expect(parse("--help")).toMatchObject({ help: true, version: false });
    expect(parse("-h")).toMatchObject({ help: true });
    expect(parse("--version")).toMatchObject({ version: true, help: false });
    // No app, bad values and unknown options do not stop --help (as GNU tools).
    expect(parse("--threads=0", "--bogus", "--help").help).toBe(true);
    expect(parse("--version", "--port=abc").version).toBe(true);
  });

  test("the cases above cover every option in the table", () => {
    const covered = new Set<string>([...CASES.map(([, key]) => key), "app", "help", "version"]);
    const missing = OPTION_TABLE.filter((o) => !covered.has(o.key)).map((o) => o.name);
    expect(missing).toEqual([]);
  });

  test("a value may be the next argument (--port 9000), as with getopt", () => {
    expect(parseApp("--port", "9000", "--url-prefix", "app").port).toBe(9000);
    expect(parse("--app", "x.ts").app).toBe("x.ts");
  });

  test("options may come after the app", () => {
    expect(parseOptions(["--threads=2", "app.ts", "--port=1"], {})).toMatchObject({ app: "app.ts", threads: 2, port: 1 });
  });

  test("-- ends the options: the next word is the app even if it starts with -", () => {
    expect(parse("--", "-weird.ts").app).toBe("-weird.ts");
  });

  test("the last of a repeated option wins", () => {
    expect(parseApp("--threads=2", "--threads=8").threads).toBe(8);
    expect(parseApp("--ipv6", "--no-ipv6").ipv6).toBe(false);
    expect(parseApp("--no-expose-tracebacks", "--expose-tracebacks").exposeTracebacks).toBe(true);
  });

  test("every earlier occurrence of a repeated option must still be valid", () => {
    expect(usageError(["app.ts", "--threads=0", "--threads=8"])).toContain("--threads");
  });

  test("byte sizes take binary K, M and G suffixes", () => {
    expect(parseApp("--inbuf-overflow=512K").inbufOverflow).toBe(524288);
    expect(parseApp("--inbuf-overflow=512kib").inbufOverflow).toBe(524288);
    expect(parseApp("--max-request-body-size=2G").maxRequestBodySize).toBe(2 * 1024 ** 3);
    expect(parseApp("--max-request-body-size=2GB").maxRequestBodySize).toBe(2 * 1024 ** 3);
  });

  test("--interface takes auto, fetch and node, in any case", () => {
    expect(parseApp("--interface=fetch").interface).toBe("fetch");
    expect(parseApp("--interface", "auto").interface).toBe("auto");
    expect(parseApp("--interface=Node").interface).toBe("node");
  });

  test("--unix-socket-perms takes 600, 0600 and 0o600", () => {
    for (const v of ["600", "0600", "0o600"]) expect(parseApp(`--unix-socket-perms=${v}`).unixSocketPerms).toBe(0o600);
    expect(parseApp("--unix-socket-perms=777").unixSocketPerms).toBe(0o777);
    expect(parseApp("--unix-socket-perms=0").unixSocketPerms).toBe(0);
  });

  test("--url-scheme is lower-cased (RFC 3986 §3.1: schemes are case-insensitive)", () => {
    expect(parseApp("--url-scheme=HTTPS").urlScheme).toBe("https");
  });

  test("--ident= (empty) means no Server header; surrounding spaces are dropped", () => {
    expect(parseApp("--ident=").ident).toBe("");
    expect(parseApp("--ident= edge ").ident).toBe("edge");
  });

  test("--trusted-proxy takes IPv4, IPv6 (bare or bracketed, canonicalised), * and localhost", () => {
    expect(parseApp("--trusted-proxy=*", "--trusted-proxy-headers=forwarded").trustedProxy).toBe("*");
    expect(parseApp("--trusted-proxy=localhost", "--trusted-proxy-headers=forwarded").trustedProxy).toBe("localhost");
    expect(parseApp("--trusted-proxy=[0:0:0:0:0:0:0:1]", "--trusted-proxy-headers=forwarded").trustedProxy).toBe("::1");
    expect(parseApp("--trusted-proxy=2001:DB8::1", "--trusted-proxy-headers=forwarded").trustedProxy).toBe("2001:db8::1");
  });

  test("--trusted-proxy-headers: commas or spaces, any case, repeatable, duplicates dropped", () => {
    const o = parseApp(
      "--trusted-proxy=10.0.0.1",
      "--trusted-proxy-headers=X-Forwarded-For,x-forwarded-host",
      "--trusted-proxy-headers=x-forwarded-for",
    );
    expect(o.trustedProxyHeaders).toEqual(["x-forwarded-for", "x-forwarded-host"]);
  });

  test("--trusted-proxy alone trusts X-Forwarded-Proto, with a warning (Waitress)", () => {
    const o = parseApp("--trusted-proxy=10.0.0.1");
    expect(o.trustedProxyHeaders).toEqual(["x-forwarded-proto"]);
    expect(o.warnings).toHaveLength(1);
    expect(o.warnings[0]).toContain("--trusted-proxy-headers");
  });

  test("--send-bytes is accepted with a deprecation warning", () => {
    const o = parseApp("--send-bytes=18000");
    expect(o.sendBytes).toBe(18000);
    expect(o.warnings).toEqual(["--send-bytes is deprecated (as in Waitress) and has no effect."]);
  });

  test("the asyncore options are accepted without a warning", () => {
    expect(parseApp("--asyncore-loop-timeout=3", "--asyncore-use-poll").warnings).toEqual([]);
  });
});

describe("--no- forms", () => {
  const bools = OPTION_TABLE.filter((o) => o.type === "bool");

  test("there are booleans in the table", () => {
    expect(bools.map((o) => o.name)).toContain("ipv6");
  });

  for (const o of bools) {
    test(`--${o.name} and --no-${o.name}`, () => {
      // --no-ipv4 needs an IPv6 host to have somewhere to listen; --proxy-protocol needs a proxy.
      const extra = o.name === "ipv4" ? ["--host=::"] : o.name === "proxy-protocol" ? ["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=forwarded"] : [];
      expect(parseApp(...extra, `--${o.name}`)[o.key]).toBe(true);
      expect(parseApp(...extra, `--no-${o.name}`)[o.key]).toBe(false);
    });
  }

  test("booleans take no value", () => {
    expect(usageError(["app.ts", "--ipv6=false"])).toBe("--ipv6 takes no value; write --ipv6 or --no-ipv6.");
    expect(usageError(["app.ts", "--no-ipv6=1"])).toContain("takes no value");
  });

  test("valued options and actions have no --no- form", () => {
    expect(usageError(["app.ts", "--no-port"])).toContain("unknown option '--no-port'");
    expect(usageError(["app.ts", "--no-help"])).toContain("unknown option");
  });
});

describe("bad values are UsageErrors with one sentence", () => {
  const BAD: [string[], string][] = [
    [["--port=abc"], "--port"],
    [["--interface=express"], "--interface must be auto, fetch or node, not 'express'."],
    [["--proxy-protocol"], "--proxy-protocol needs --trusted-proxy: name the proxy whose connections begin with a PROXY header."],
    [["--admin-listen=127.0.0.1"], "--admin-listen=127.0.0.1 is not HOST:PORT; write it as in --admin-listen=127.0.0.1:9090 or --admin-listen=[::1]:9090."],
    [["--admin-listen=::1:9090"], "--admin-listen=::1:9090 is not HOST:PORT"],
    [["--admin-listen=127.0.0.1:65536"], "--admin-listen=127.0.0.1:65536 has port '65536'; a port is a whole number from 0 to 65535."],
    [["--admin-listen=*:9090"], "--admin-listen=*:9090 names no single address; use 0.0.0.0 (every IPv4 address) or [::] (every IPv6 address)."],
    [["--admin-listen=300.1.1.1:9090"], "--admin-listen=300.1.1.1:9090 has '300.1.1.1', which is not a valid IPv4 address."],
    [["--admin-listen="], "--admin-listen= is not HOST:PORT"],
    [["--interface="], "--interface"],
    [["--port=70000"], "--port"],
    [["--port=-1"], "--port"],
    [["--port=+80"], "--port"],
    [["--port=8_080"], "--port"],
    [["--port=http"], "--port"],
    [["--port="], "--port"],
    [["--threads=0"], "--threads"],
    [["--threads=1.5"], "--threads"],
    [["--threads=100000"], "--threads"],
    [["--backlog=0"], "--backlog"],
    [["--connection-limit=0"], "--connection-limit"],
    [["--cleanup-interval=0"], "--cleanup-interval"],
    [["--channel-timeout=-5"], "--channel-timeout"],
    [["--header-timeout=0"], "--header-timeout"],
    [["--channel-request-lookahead=x"], "--channel-request-lookahead"],
    [["--recv-bytes=0"], "--recv-bytes"],
    [["--inbuf-overflow=1KB2"], "--inbuf-overflow"],
    [["--max-request-body-size=1T"], "--max-request-body-size"],
    [["--max-request-body-size=99999999999999999999"], "--max-request-body-size"],
    [["--max-request-header-size=0"], "--max-request-header-size"],
    [["--outbuf-high-watermark=1.5M"], "--outbuf-high-watermark"],
    [["--shutdown-timeout=soon"], "--shutdown-timeout"],
    [["--asyncore-loop-timeout=-1"], "--asyncore-loop-timeout"],
    [["--send-bytes=0"], "--send-bytes"],
    [["--unix-socket-perms=999"], "--unix-socket-perms"],
    [["--unix-socket-perms=1777"], "--unix-socket-perms"],
    [["--unix-socket-perms=rw"], "--unix-socket-perms"],
    [["--unix-socket="], "--unix-socket"],
    [["--unix-socket=/tmp/" + "x".repeat(200)], "--unix-socket"],
    [["--url-scheme=ht tp"], "--url-scheme"],
    [["--url-scheme=1http"], "--url-scheme"],
    [["--url-prefix=/a?b"], "--url-prefix"],
    [["--url-prefix=/a b"], "--url-prefix"],
    [["--url-prefix=/a#b"], "--url-prefix"],
    [["--ident=a\r\nX-Injected: 1"], "--ident"],
    [["--ident=caf\u00e9"], "--ident"],
    [["--server-name=http://example.com"], "--server-name"],
    [["--server-name=example.com:80"], "--server-name"],
    [["--server-name="], "--server-name"],
    // The rule Host obeys (http/authority.ts): request.url could not carry these.
    [["--server-name=a.1"], "--server-name"],
    [["--server-name=[4712::abcd::]"], "--server-name"],
    [["--max-request-headers=0"], "--max-request-headers"],
    [["--max-request-headers=10001"], "--max-request-headers"],
    [["--host="], "--host"],
    [["--host=not a host"], "--host"],
    [["--host=*:80"], "--host"],
    [["--host=300.1.1.1"], "--host"],
    [["--listen=127.0.0.1:abc"], "--listen"],
    [["--listen=127.0.0.1:70000"], "--listen"],
    [["--listen=127.0.0.1:"], "--listen"],
    [["--listen=::1"], "--listen"],
    [["--listen=::1:8080"], "--listen"],
    [["--listen=[::1"], "--listen"],
    [["--listen=[::1]8080"], "--listen"],
    [["--listen=[127.0.0.1]:80"], "--listen"],
    [["--listen=:8080"], "--listen"],
    [["--listen="], "--listen"],
    [["--listen=127.0.0.1:80", "--host=127.0.0.1"], "--listen"],
    [["--listen=127.0.0.1:80", "--port=80"], "--listen"],
    [["--unix-socket=/tmp/s", "--host=127.0.0.1"], "--unix-socket"],
    [["--unix-socket=/tmp/s", "--port=80"], "--unix-socket"],
    [["--unix-socket=/tmp/s", "--listen=127.0.0.1:80"], "--unix-socket"],
    [["--no-ipv4", "--no-ipv6"], "--no-ipv4"],
    [["--no-ipv4"], "--no-ipv4"], // the default host 0.0.0.0 is IPv4 (Waitress refuses this too)
    [["--no-ipv6", "--listen=[::1]:8080"], "--no-ipv6"],
    [["--no-ipv6", "--host=::"], "--no-ipv6"],
    [["--no-ipv4", "--listen=127.0.0.1:8080"], "--no-ipv4"],
    [["--trusted-proxy=proxy.example.com"], "--trusted-proxy"],
    [["--trusted-proxy="], "--trusted-proxy"],
    [["--trusted-proxy-count=2"], "--trusted-proxy-count"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-count=0"], "--trusted-proxy-count"],
    [["--trusted-proxy-headers=x-forwarded-for"], "--trusted-proxy-headers"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=x-forwarded-foo"], "--trusted-proxy-headers"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=x_forwarded_for"], "--trusted-proxy-headers"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=,"], "--trusted-proxy-headers"],
    [["--trusted-proxy=10.0.0.1", "--trusted-proxy-headers=forwarded x-forwarded-for"], "--trusted-proxy-headers"],
    [["--app=other.ts"], "give one app only"],
    [["--bogus"], "unknown option '--bogus'"],
    [["--thr=2"], "unknown option '--thr'"], // no getopt-style abbreviations
    [["-p", "80"], "unknown option '-p'"],
    [["--port"], "--port needs a value"],
    [["--url-prefix", "--port=1"], "--url-prefix needs a value"],
    [["--access-log="], "--access-log takes a file path or - (standard error)"],
    [["--access-log", "--access-log-format=apache"], "--access-log-format must be common or combined, not 'apache'."],
    [["--access-log-format=combined"], "--access-log-format has no meaning without --access-log."],
    [["--log-format=yaml"], "--log-format must be text or json, not 'yaml'."],
    [["--log-format="], "--log-format"],
    [["--reload=yes"], "--reload takes no value; write --reload or --no-reload."],
  ];

  for (const [argv, mention] of BAD) {
    test(`${JSON.stringify(argv)}`, () => {
      const message = usageError(["app.ts", ...argv]);
      expect(message).toContain(mention);
      // One sentence: a single line ending in a full stop or question mark.
      expect(message).not.toContain("\n");
      expect(message).toMatch(/[.?]$/);
    });
  }

  test("the message names the bad value and the accepted range", () => {
    expect(usageError(["app.ts", "--port=abc"])).toBe("--port must be a whole number from 0 to 65535, not 'abc'.");
    expect(usageError(["app.ts", "--threads=0"])).toBe("--threads must be a whole number from 1 to 1024, not '0'.");
    expect(usageError(["app.ts", "--unix-socket-perms=999"])).toBe(
      "--unix-socket-perms must be an octal file mode from 000 to 777, such as 600, not '999'.",
    );
  });

  test("an unknown option close to a real one gets a suggestion", () => {
    expect(usageError(["app.ts", "--thread=4"])).toBe("unknown option '--thread'; did you mean '--threads'?");
    expect(usageError(["app.ts", "--no-log-socket-error"])).toContain("did you mean '--no-log-socket-errors'?");
    expect(usageError(["app.ts", "--zzzzzzzzzzzz"])).toBe("unknown option '--zzzzzzzzzzzz'.");
  });

  test("no app", () => {
    expect(usageError([])).toBe("no app given: name a module, as in 'tray app.ts' or 'tray --app=app.ts:handler'.");
    expect(usageError(["--port=80"])).toContain("no app given");
  });

  test("two apps", () => {
    expect(usageError(["a.ts", "b.ts"])).toBe("give one app only, not 'a.ts' and 'b.ts'.");
  });

  test("an empty app name", () => {
    expect(usageError(["--app="])).toContain("the app name is empty");
    expect(usageError([""])).toContain("the app name is empty");
  });

  test("the first problem on the line is the one reported", () => {
    expect(usageError(["--bogus", "--port=abc"])).toContain("--bogus");
  });
});

describe("logging and development options", () => {
  test("--access-log alone (or =-) logs to standard error", () => {
    expect(parseApp("--access-log").accessLog).toBe("-");
    expect(parseApp("--access-log=-").accessLog).toBe("-");
  });

  test("--access-log alone never takes the next argument as its file", () => {
    const o = parse("--access-log", "app.ts");
    expect(o.accessLog).toBe("-");
    expect(o.app).toBe("app.ts");
  });

  test("--access-log-format and --log-format are case-insensitive", () => {
    expect(parseApp("--access-log", "--access-log-format=Combined").accessLogFormat).toBe("combined");
    expect(parseApp("--log-format=JSON").logFormat).toBe("json");
  });

  test("--no-reload turns a previous --reload off", () => {
    expect(parseApp("--reload", "--no-reload").reload).toBe(false);
  });

  test("--help shows --access-log's optional value and the logging group", () => {
    const help = renderHelp();
    expect(help).toContain("    --access-log[=FILE]\n");
    expect(help).toContain("    --access-log-format=common|combined\n");
    expect(help).toContain("    --log-format=text|json\n");
    expect(help).toContain("    --[no-]reload\n");
    expect(help).toContain("Logging and development options");
  });
});

describe("$PORT", () => {
  test("is the default port when set", () => {
    const o = parseOptions(["app.ts"], { PORT: "5000" });
    expect(o.port).toBe(5000);
    expect(o.listeners).toEqual([{ kind: "tcp", host: "0.0.0.0", port: 5000 }]);
  });

  test("--port overrides it, even when it is not a number", () => {
    expect(parseOptions(["app.ts", "--port=9000"], { PORT: "5000" }).port).toBe(9000);
    expect(parseOptions(["app.ts", "--port=9000"], { PORT: "junk" }).port).toBe(9000);
  });

  test("an empty PORT counts as unset", () => {
    expect(parseOptions(["app.ts"], { PORT: "" }).port).toBe(8080);
  });

  test("a bad PORT is a usage error when it would be used", () => {
    expect(usageError(["app.ts"], { PORT: "abc" })).toContain("PORT environment variable");
    expect(usageError(["app.ts"], { PORT: "99999" })).toContain("PORT environment variable");
  });

  test("is the port of a --listen without one, and ignored by --listen with one and by --unix-socket", () => {
    expect(parseOptions(["app.ts", "--listen=127.0.0.1"], { PORT: "5000" }).listeners).toEqual([
      { kind: "tcp", host: "127.0.0.1", port: 5000 },
    ]);
    expect(parseOptions(["app.ts", "--listen=127.0.0.1:81"], { PORT: "junk" }).listeners).toEqual([
      { kind: "tcp", host: "127.0.0.1", port: 81 },
    ]);
    expect(parseOptions(["app.ts", "--unix-socket=/tmp/t.sock"], { PORT: "junk" }).listeners).toEqual([
      { kind: "unix", path: "/tmp/t.sock" },
    ]);
  });

  test("does not conflict with --listen (only an explicit --port does)", () => {
    expect(parseOptions(["app.ts", "--listen=127.0.0.1:81"], { PORT: "5000" }).listeners).toHaveLength(1);
  });
});

describe("listen addresses", () => {
  const listeners = (...argv: string[]) => parseApp(...argv).listeners;

  test("--host and --port", () => {
    expect(listeners("--host=127.0.0.1", "--port=0")).toEqual([{ kind: "tcp", host: "127.0.0.1", port: 0 }]);
  });

  test("--host takes a bare or bracketed IPv6 address", () => {
    expect(listeners("--host=::1")).toEqual([{ kind: "tcp", host: "::1", port: 8080 }]);
    expect(listeners("--host=[::1]")).toEqual([{ kind: "tcp", host: "::1", port: 8080 }]);
  });

  test("--host=* is the wildcard, as in Waitress", () => {
    expect(listeners("--host=*", "--port=81")).toEqual([
      { kind: "tcp", host: "0.0.0.0", port: 81 },
      { kind: "tcp", host: "::", port: 81 },
    ]);
  });

  test("--listen HOST:PORT, repeated, in order", () => {
    expect(listeners("--listen=127.0.0.1:8001", "--listen=[::1]:8002")).toEqual([
      { kind: "tcp", host: "127.0.0.1", port: 8001 },
      { kind: "tcp", host: "::1", port: 8002 },
    ]);
  });

  test("--listen takes several space-separated addresses in one value (Waitress's aslist)", () => {
    expect(listeners("--listen=127.0.0.1:8001 [::1]:8002")).toHaveLength(2);
  });

  test("--listen IPv6 in brackets is canonicalised; a zone id is kept", () => {
    expect(listeners("--listen=[0:0:0:0:0:0:0:1]:80")).toEqual([{ kind: "tcp", host: "::1", port: 80 }]);
    expect(listeners("--listen=[fe80::1%lo]:80")).toEqual([{ kind: "tcp", host: "fe80::1%lo", port: 80 }]);
  });

  test("--listen without a port uses the default port", () => {
    expect(listeners("--listen=127.0.0.1")).toEqual([{ kind: "tcp", host: "127.0.0.1", port: 8080 }]);
    expect(listeners("--listen=[::1]")).toEqual([{ kind: "tcp", host: "::1", port: 8080 }]);
  });

  test("--listen=*:PORT binds 0.0.0.0 and ::", () => {
    expect(listeners("--listen=*:8080")).toEqual([
      { kind: "tcp", host: "0.0.0.0", port: 8080 },
      { kind: "tcp", host: "::", port: 8080 },
    ]);
  });

  test("the wildcard follows --no-ipv6 and --no-ipv4", () => {
    expect(listeners("--listen=*:8080", "--no-ipv6")).toEqual([{ kind: "tcp", host: "0.0.0.0", port: 8080 }]);
    expect(listeners("--listen=*:8080", "--no-ipv4")).toEqual([{ kind: "tcp", host: "::", port: 8080 }]);
  });

  test("a bare :PORT is refused with the two ways to say it", () => {
    expect(usageError(["app.ts", "--listen=:8080"])).toBe(
      "--listen=:8080 has no host: write *:8080 for every address, or 127.0.0.1:8080 for this machine only.",
    );
  });

  test("an unbracketed IPv6 address in --listen is refused with the bracketed form", () => {
    expect(usageError(["app.ts", "--listen=::1"])).toContain("[::1]:8080");
  });

  test("repeated addresses are listened on once (Waitress dedupes); port 0 is never a repeat", () => {
    expect(listeners("--listen=127.0.0.1:81", "--listen=127.0.0.1:81", "--listen=*:81", "--no-ipv6")).toEqual([
      { kind: "tcp", host: "127.0.0.1", port: 81 },
      { kind: "tcp", host: "0.0.0.0", port: 81 },
    ]);
    expect(listeners("--listen=127.0.0.1:0", "--listen=127.0.0.1:0")).toHaveLength(2);
    expect(listeners("--listen=[::1]:81 [0::1]:81")).toEqual([{ kind: "tcp", host: "::1", port: 81 }]);
  });

  test("host names are kept for resolveListenerNames()", () => {
    expect(listeners("--listen=localhost:81")).toEqual([{ kind: "tcp", host: "localhost", port: 81 }]);
    expect(listeners("--host=localhost")).toEqual([{ kind: "tcp", host: "localhost", port: 8080 }]);
  });

  test("--unix-socket replaces TCP", () => {
    const o = parseApp("--unix-socket=/tmp/tray.sock", "--unix-socket-perms=660");
    expect(o.listeners).toEqual([{ kind: "unix", path: "/tmp/tray.sock" }]);
    expect(o.unixSocketPerms).toBe(0o660);
  });

  test("--unix-socket ignores the address families (there is no TCP)", () => {
    expect(parseApp("--unix-socket=/tmp/t.sock", "--no-ipv4", "--no-ipv6").listeners).toEqual([{ kind: "unix", path: "/tmp/t.sock" }]);
  });
});

describe("resolveListenerNames", () => {
  const fake: HostLookup = async (host) => {
    if (host === "dual.test") return [{ address: "192.0.2.1", family: 4 }, { address: "2001:db8::1", family: 6 }];
    if (host === "v6.test") return [{ address: "2001:db8::2", family: 6 }];
    throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
  };

  test("a name becomes every address it resolves to", async () => {
    const o = parseApp("--listen=dual.test:81", "--listen=127.0.0.1:82");
    expect(await resolveListenerNames(o, fake)).toEqual([
      { kind: "tcp", host: "192.0.2.1", port: 81 },
      { kind: "tcp", host: "2001:db8::1", port: 81 },
      { kind: "tcp", host: "127.0.0.1", port: 82 },
    ]);
  });

  test("--no-ipv6 drops the IPv6 addresses of a name", async () => {
    const o = parseApp("--listen=dual.test:81", "--no-ipv6");
    expect(await resolveListenerNames(o, fake)).toEqual([{ kind: "tcp", host: "192.0.2.1", port: 81 }]);
  });

  test("a name with no address of an enabled family is a usage error", async () => {
    const o = parseApp("--listen=v6.test:81", "--no-ipv6");
    expect(resolveListenerNames(o, fake)).rejects.toBeInstanceOf(UsageError);
  });

  test("a name that does not resolve is a usage error naming it", async () => {
    const o = parseApp("--host=nowhere.test");
    expect(resolveListenerNames(o, fake)).rejects.toThrow("cannot listen on 'nowhere.test': the name does not resolve (ENOTFOUND).");
  });

  test("addresses and unix sockets pass through without a lookup", async () => {
    const never: HostLookup = async () => {
      throw new Error("lookup called");
    };
    expect(await resolveListenerNames(parseApp("--listen=*:81"), never)).toHaveLength(2);
    expect(await resolveListenerNames(parseApp("--unix-socket=/tmp/x.sock"), never)).toEqual([{ kind: "unix", path: "/tmp/x.sock" }]);
  });

  test("the system resolver knows localhost", async () => {
    const list = await resolveListenerNames(parseApp("--listen=localhost:0"));
    expect(list.length).toBeGreaterThan(0);
    for (const l of list) expect(l.kind === "tcp" && ["127.0.0.1", "::1"].includes(l.host)).toBe(true);
  });
});

describe("--url-prefix normalisation (Waitress's slash_fixed_str)", () => {
  const CASES: [string, string][] = [
    ["", ""],
    ["/", ""], // tray: "/" is no prefix (Waitress keeps "/", which strips every path's first slash)
    ["///", ""],
    ["app", "/app"],
    ["/app", "/app"],
    ["/app/", "/app"],
    ["//app//", "/app"],
    ["  /app/  ", "/app"],
    ["/a/b/", "/a/b"],
    ["/a%20b", "/a%20b"],
  ];
  for (const [raw, expected] of CASES) {
    test(`${JSON.stringify(raw)} -> ${JSON.stringify(expected)}`, () => {
      expect(normaliseUrlPrefix(raw)).toBe(expected);
      expect(parseApp(`--url-prefix=${raw}`).urlPrefix).toBe(expected);
    });
  }
});

describe("--help text", () => {
  const help = renderHelp();

  test("starts with the usage line", () => {
    expect(help.split("\n")[0]).toBe("Usage: tray [OPTIONS] MODULE[:OBJECT]");
  });

  test("lists every option of the table with its default", () => {
    for (const o of OPTION_TABLE) {
      expect(help).toContain(`    ${optionSynopsis(o)}\n`);
      if (o.shownDefault !== "") expect(help.replace(/\s+/g, " ")).toContain(`Default: ${o.shownDefault}.`);
    }
  });

  test("booleans show their --no- form", () => {
    expect(help).toContain("--[no-]ipv6");
    expect(help).toContain("--[no-]expose-tracebacks");
  });

  test("the no-op options say they have no effect", () => {
    for (const name of ["send-bytes", "asyncore-loop-timeout", "asyncore-use-poll"]) {
      const start = help.indexOf(`--${name}`) >= 0 ? help.indexOf(`--${name}`) : help.indexOf(`--[no-]${name}`);
      const block = help.slice(start, help.indexOf("\n\n", start));
      expect(block.replace(/\s+/g, " ")).toContain("No effect in tray.");
    }
  });

  test("names the proxy headers and mentions $PORT", () => {
    for (const n of PROXY_HEADER_NAMES) expect(help).toContain(n);
    expect(help).toContain("PORT");
  });

  test("no line is wider than 80 columns", () => {
    for (const line of help.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });
});
