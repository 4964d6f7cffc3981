// The harness's Worker: loadApp runs here, never on the main thread (DESIGN.md §3).
import { loadApp, parseAppSpec } from "../../../src/app/loader.ts";

declare const self: Worker;

export interface HarnessRequest {
  text: string;
  call: boolean;
  cwd: string;
}

export type HarnessReply = { ok: true; status: number; body: string } | { ok: false; name: string; message: string };

self.onmessage = async (event: MessageEvent<HarnessRequest>) => {
  const { text, call, cwd } = event.data;
  let reply: HarnessReply;
  try {
    const handler = await loadApp(parseAppSpec(text, cwd, call));
    const info = {
      remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" as const },
      requestIP: () => null,
      scriptName: "",
    };
    const response = await handler(new Request("http://harness.test/path"), info);
    reply = { ok: true, status: response.status, body: await response.text() };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    reply = { ok: false, name: e.name, message: e.message };
  }
  self.postMessage(reply);
};
