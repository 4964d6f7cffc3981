// The WebSocket echo app of scripts/bench-websocket.ts, Bun's shape: served by tray as it is
// (`tray ws-echo.mjs`), and by Bun.serve when run directly (`bun ws-echo.mjs HOST PORT`).
// GET / answers 200 (readiness); any other request is upgraded and every message echoed.
const app = {
  fetch(request, server) {
    if (new URL(request.url).pathname === "/") return new Response("ok");
    if (server.upgrade(request)) return undefined;
    return new Response("expected a websocket", { status: 400 });
  },
  websocket: {
    perMessageDeflate: false,
    message(ws, message) {
      ws.send(message);
    },
  },
};

export default app;

if (import.meta.main && typeof Bun !== "undefined" && process.argv.length >= 4) {
  const [hostname, port] = process.argv.slice(2);
  Bun.serve({ hostname, port: Number(port), ...app });
}
