// WebSocket close codes (RFC 6455 §7.4) and the error the frame reader and the inflater raise.
// Strategy: every code tray sends or checks is named here once; isValidCloseCode is the one rule
// for "may a peer put this code in a close frame" (the `ws` package's rule: RFC 6455 §7.4.1 codes
// that are not reserved for local use, the IANA-registered 1012-1014, and 3000-4999, §7.4.2).

/** §7.4.1: normal closure, the purpose of the connection has been fulfilled. */
export const CLOSE_NORMAL = 1000;
/** §7.4.1: the endpoint is going away (server shutdown, browser navigating away). */
export const CLOSE_GOING_AWAY = 1001;
/** §7.4.1: the peer broke the protocol. */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** §7.4.1: a data type the endpoint cannot accept (e.g. binary where only text is understood). */
export const CLOSE_UNSUPPORTED_DATA = 1003;
/** §7.4.1: reserved, never sent: the close frame carried no status code. */
export const CLOSE_NO_STATUS = 1005;
/** §7.4.1: reserved, never sent: the connection closed without a close frame. */
export const CLOSE_ABNORMAL = 1006;
/** §7.4.1: message data inconsistent with its type (text that is not UTF-8, §8.1). */
export const CLOSE_INVALID_PAYLOAD = 1007;
/** §7.4.1: a message violates the endpoint's policy (generic). */
export const CLOSE_POLICY_VIOLATION = 1008;
/** §7.4.1: a message too big to process. */
export const CLOSE_MESSAGE_TOO_BIG = 1009;
/** §7.4.1: (client) the server did not negotiate an extension the client requires. */
export const CLOSE_MANDATORY_EXTENSION = 1010;
/** §7.4.1: the server met an unexpected condition that prevented it from fulfilling the request. */
export const CLOSE_INTERNAL_ERROR = 1011;
/** IANA WebSocket Close Code Number Registry: the service is restarting. */
export const CLOSE_SERVICE_RESTART = 1012;
/** IANA registry: temporary server condition, try again later. */
export const CLOSE_TRY_AGAIN_LATER = 1013;
/** IANA registry: a gateway received an invalid response from upstream. */
export const CLOSE_BAD_GATEWAY = 1014;

/**
 * Whether a peer may send `code` in a close frame (RFC 6455 §7.4.1, §7.4.2). 1004 is reserved,
 * 1005/1006/1015 are for local reporting only, 1016-2999 are unassigned or reserved for future
 * RFCs, 3000-4999 are for libraries and applications. Same rule as `ws`'s isValidStatusCode.
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** The peer broke RFC 6455 (or a limit): `code` is the close code to send, the message its reason. */
export class WebSocketError extends Error {
  constructor(
    readonly code: number,
    reason: string,
  ) {
    super(reason);
    this.name = "WebSocketError";
  }
}
