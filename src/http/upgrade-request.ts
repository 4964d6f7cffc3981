// Whether a request asks to switch protocols (RFC 9110 §7.8) the way node:http recognises one:
// an Upgrade field named in Connection (§7.6.1: Upgrade is hop-by-hop, so a sender lists it
// there), on HTTP/1.1 (§7.8: a server MUST ignore Upgrade in an HTTP/1.0 request). CONNECT is a
// tunnel of another kind and never an upgrade. Only such a request may reach a Node-style app's
// http.Server 'upgrade' event (src/pool/node-interface.ts).
import { splitList } from "./grammar.ts";

/** `headers`: flat [name, value, ...] as received. */
export function asksToUpgrade(method: string, versionMinor: number, headers: string[]): boolean {
  if (versionMinor !== 1 || method === "CONNECT") return false;
  let upgrade = false;
  let listed = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i].toLowerCase();
    if (name === "upgrade") upgrade ||= headers[i + 1].trim() !== "";
    else if (name === "connection") listed ||= splitList(headers[i + 1]).some((token) => token.toLowerCase() === "upgrade");
  }
  return upgrade && listed;
}
