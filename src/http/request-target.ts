// The request-target's four forms (RFC 9112 §3.2) and what each means for the URL the app sees.

import { ProtocolError } from "./errors.ts";
import { ABSOLUTE_FORM_RE } from "./grammar.ts";
import { parseAuthority } from "./authority.ts";
import type { Authority } from "./authority.ts";

export interface Target {
  /** origin-form path and query ("/" for an absolute-form target with an empty path; "*" for asterisk-form). */
  path: string;
  /** An absolute-form target's authority, which overrides Host (RFC 9112 §3.2.2); else null. */
  authority: Authority | null;
  /** An absolute-form target's scheme, lower-cased (RFC 3986 §3.1: case-insensitive); else null. */
  scheme: string | null;
}

export function parseRequestTarget(method: string, target: string): Target {
  // Authority-form is only for CONNECT, which opens a tunnel (RFC 9110 §9.3.6); tray does not tunnel.
  if (method === "CONNECT") throw new ProtocolError(501, "CONNECT is not supported");
  let path: string;
  let authority: Authority | null = null;
  let scheme: string | null = null;
  if (target.charCodeAt(0) === 0x2f) {
    path = target; // origin-form (RFC 9112 §3.2.1)
  } else if (target === "*") {
    if (method !== "OPTIONS") throw new ProtocolError(400, "Asterisk-form is only for OPTIONS");
    path = "*"; // asterisk-form (RFC 9112 §3.2.4)
  } else {
    const m = ABSOLUTE_FORM_RE.exec(target); // absolute-form (RFC 9112 §3.2.2)
    if (m === null) throw new ProtocolError(400, "Malformed request-target");
    scheme = m[1].toLowerCase();
    // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error, not a credential; §4.2.1: no
    // empty host; and it must be an authority request.url can carry (authority.ts).
    authority = parseAuthority(m[2]);
    if (authority === null) throw new ProtocolError(400, "Malformed request-target authority");
    const rest = m[3];
    path = rest === "" ? "/" : rest.charCodeAt(0) === 0x3f ? "/" + rest : rest;
  }
  // A fragment is never sent (RFC 9110 §7.1): "#" in a target is a broken client or an attack.
  if (path.includes("#")) throw new ProtocolError(400, "Fragment in request-target");
  return { path, authority, scheme };
}
