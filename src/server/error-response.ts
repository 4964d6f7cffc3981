// The whole response tray sends on its own behalf: a framing error (400/408/413/414/431/501/505),
// or an app failure (500/503). A short plain-text body naming the problem, Waitress style; framed
// by the response writer like every other response (a HEAD gets the head only).

import { wholeResponse } from "../http/response-writer.ts";
import { STATUS_TEXT } from "../http/status.ts";
import { httpDate } from "./date.ts";

/** "Bad Request\n\nInvalid Content-Length\n" for a reason; the body as given when it already starts with the status text. */
export function errorBody(status: number, reason: string): string {
  const title = STATUS_TEXT[status] ?? "Error";
  return reason.startsWith(title) ? `${reason}\n` : `${title}\n\n${reason}\n`;
}

/** `headers`: fields the status itself calls for (426's Sec-WebSocket-Version, RFC 6455 §4.4). */
export function errorResponse(status: number, reason: string, ident: string, keepAlive = false, versionMinor = 1, method = "GET", headers: string[] = []): Uint8Array {
  const body = Buffer.from(errorBody(status, reason), "utf8");
  const fields = ["Content-Type", "text/plain; charset=utf-8", ...headers];
  return wholeResponse({ method, versionMinor, keepAlive, status, headers: fields, date: httpDate(), server: ident }, body);
}
