// A ProtocolError is what the parser says when the bytes cannot be a valid HTTP/1.1 request.
// It carries the status to answer with; the message is the short reason that goes in the
// plain-text body (Waitress style). After one, the connection answers once and closes.
// `headers` are extra response fields the status needs (flat [name, value, ...]), e.g. the
// Sec-WebSocket-Version a 426 must list (RFC 6455 §4.4).

export class ProtocolError extends Error {
  constructor(
    readonly status: number,
    reason: string,
    readonly headers: string[] = [],
  ) {
    super(reason);
    this.name = "ProtocolError";
  }
}
