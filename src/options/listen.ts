// Listen addresses (Waitress: adjustments.py builds `listen` from host:port pairs via getaddrinfo).
// Strategy: parseOptions() turns --host/--port, or each --listen value, into ListenAddress
// entries without I/O: splitListen() finds the host and port, classifyHost() tells an IP
// literal (kept as canonical text), a wildcard and a host name apart, and tcpListeners() expands
// wildcards per --ipv4/--ipv6. Host names stay names until resolveListenerNames(), the one step
// that does I/O (DNS), which the CLI runs just before listening.
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { PORT_MAX } from "./table.ts";
import type { ListenAddress, Options } from "./types.ts";
import { UsageError, quote } from "./usage-error.ts";
import { canonicalIp } from "../http/ip-address.ts";
import { UINT_RE } from "./values.ts";

/** Longest unix socket path in bytes: sockaddr_un.sun_path less its NUL (108 on Linux, 104 on BSD/macOS). */
export const UNIX_PATH_MAX = process.platform === "linux" ? 107 : 103;

// RFC 1123 §2.1 host names: dot-separated labels of letters, digits and inner hyphens.
const HOSTNAME_RE = /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const ZONE_RE = /^[A-Za-z0-9_.-]+$/;

type HostKind = { family: 4 | 6; address: string } | { family: "name"; name: string } | { family: "wildcard" };

/** Classifies a host written as in --host or --listen; `source` names where it came from for errors. */
function classifyHost(host: string, source: string, bracketsRequired: boolean): HostKind {
  if (host === "*") return { family: "wildcard" };
  if (host.startsWith("[") && host.endsWith("]")) {
    const inner = host.slice(1, -1);
    const pct = inner.indexOf("%");
    const addr = pct === -1 ? inner : inner.slice(0, pct);
    if (isIP(addr) === 6 && (pct === -1 || ZONE_RE.test(inner.slice(pct + 1)))) {
      return { family: 6, address: pct === -1 ? (canonicalIp(addr) as string) : `${canonicalIp(addr)}${inner.slice(pct)}` };
    }
    throw new UsageError(`${source} has ${quote(host)}, which is not an IPv6 address in brackets.`);
  }
  if (isIP(host) === 4) return { family: 4, address: host };
  if (isIP(host) === 6 || host.includes(":")) {
    if (!bracketsRequired && isIP(host) === 6) return { family: 6, address: canonicalIp(host) ?? host };
    if (!bracketsRequired) throw new UsageError(`${source} is not an IP address or host name (the port goes in --port).`);
    throw new UsageError(`${source} has ${quote(host)}: write an IPv6 address in brackets, as in [::1]:8080.`);
  }
  if (/^[0-9.]+$/.test(host)) throw new UsageError(`${source} has ${quote(host)}, which is not a valid IPv4 address.`);
  if (HOSTNAME_RE.test(host)) return { family: "name", name: host };
  throw new UsageError(`${source} has ${quote(host)}, which is neither an IP address nor a host name.`);
}

/** Splits one --listen value into host and port (Waitress: rsplit on the last ':'; no ':' means the default port). */
export function splitListen(value: string, defaultPort: () => number): { host: string; port: number } {
  const bracketEnd = value.startsWith("[") ? value.indexOf("]") : -1;
  let host = value;
  let portText: string | null = null;
  if (bracketEnd !== -1) {
    host = value.slice(0, bracketEnd + 1);
    const rest = value.slice(bracketEnd + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw new UsageError(`--listen=${value} is not HOST:PORT; after ']' comes ':PORT'.`);
      portText = rest.slice(1);
    }
  } else {
    const colon = value.lastIndexOf(":");
    // More than one ':' without brackets is an unbracketed IPv6 address: classifyHost refuses it.
    if (colon !== -1 && value.indexOf(":") === colon) [host, portText] = [value.slice(0, colon), value.slice(colon + 1)];
  }
  if (host === "") {
    throw new UsageError(`--listen=${value} has no host: write *:${portText ?? "PORT"} for every address, or 127.0.0.1:${portText ?? "PORT"} for this machine only.`);
  }
  if (portText === null) return { host, port: defaultPort() };
  const port = UINT_RE.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= PORT_MAX)) {
    throw new UsageError(`--listen=${value} has port ${quote(portText)}; a port is a whole number from 0 to ${PORT_MAX}.`);
  }
  return { host, port };
}

export function tcpListeners(pairs: { host: string; port: number; source: string; brackets: boolean }[], ipv4: boolean, ipv6: boolean): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const p of pairs) {
    const kind = classifyHost(p.host, p.source, p.brackets);
    if (kind.family === "wildcard") {
      if (ipv4) out.push({ kind: "tcp", host: "0.0.0.0", port: p.port });
      if (ipv6) out.push({ kind: "tcp", host: "::", port: p.port });
    } else if (kind.family === "name") {
      out.push({ kind: "tcp", host: kind.name, port: p.port }); // resolved by resolveListenerNames()
    } else {
      if (kind.family === 4 && !ipv4) {
        throw new UsageError(`${p.source} is an IPv4 address but --no-ipv4 was given; use an IPv6 address such as :: instead.`);
      }
      if (kind.family === 6 && !ipv6) {
        throw new UsageError(`${p.source} is an IPv6 address but --no-ipv6 was given; use an IPv4 address such as 0.0.0.0 instead.`);
      }
      out.push({ kind: "tcp", host: kind.address, port: p.port });
    }
  }
  return dedupeListeners(out);
}

/** Drops repeated host:port pairs (Waitress does too); port 0 is never a repeat, each gets its own free port. */
export function dedupeListeners(list: ListenAddress[]): ListenAddress[] {
  const seen = new Set<string>();
  return list.filter((l) => {
    if (l.kind !== "tcp" || l.port === 0) return true;
    const id = `${l.host.split("%")[0]} ${l.port}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (host) => lookup(host, { all: true });

/**
 * Replaces host names in `options.listeners` by every address they resolve to, keeping only the
 * families --ipv4/--ipv6 allow (Waitress binds each getaddrinfo() result). Throws UsageError for a
 * name that does not resolve, or resolves only to disabled families.
 */
export async function resolveListenerNames(options: Options, resolve: HostLookup = systemLookup): Promise<ListenAddress[]> {
  const out: ListenAddress[] = [];
  for (const l of options.listeners) {
    if (l.kind !== "tcp" || isIP(l.host.split("%")[0]) !== 0) {
      out.push(l);
      continue;
    }
    let found: { address: string; family: number }[];
    try {
      found = await resolve(l.host);
    } catch (e) {
      const code = (e as { code?: string }).code ?? (e as Error).message;
      throw new UsageError(`cannot listen on ${quote(l.host)}: the name does not resolve (${code}).`);
    }
    const allowed = found.filter((a) => (a.family === 4 ? options.ipv4 : options.ipv6));
    if (allowed.length === 0) {
      throw new UsageError(`cannot listen on ${quote(l.host)}: it resolves to no address of an enabled family (see --ipv4/--ipv6).`);
    }
    for (const a of allowed) out.push({ kind: "tcp", host: a.address, port: l.port });
  }
  return dedupeListeners(out);
}

/**
 * --admin-listen: one HOST:PORT, the port required (the admin port is never the app's default).
 * The host as in --listen (IP literal, [IPv6] or a name); * is refused: name one address.
 */
export function parseAdminListen(value: string): ListenAddress {
  const source = `--admin-listen=${value}`;
  const m = /^(\[[^\]]*\]|[^:[\]]*):([^:]*)$/.exec(value);
  if (m === null || m[1] === "") throw new UsageError(`${source} is not HOST:PORT; write it as in --admin-listen=127.0.0.1:9090 or --admin-listen=[::1]:9090.`);
  const port = UINT_RE.test(m[2]) ? Number(m[2]) : NaN;
  if (!(port >= 0 && port <= PORT_MAX)) throw new UsageError(`${source} has port ${quote(m[2])}; a port is a whole number from 0 to ${PORT_MAX}.`);
  const kind = classifyHost(m[1], source, true);
  if (kind.family === "wildcard") throw new UsageError(`${source} names no single address; use 0.0.0.0 (every IPv4 address) or [::] (every IPv6 address).`);
  return { kind: "tcp", host: kind.family === "name" ? kind.name : kind.address, port };
}
