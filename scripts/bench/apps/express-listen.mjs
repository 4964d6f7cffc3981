// express-app.mjs on node:http: `node express-listen.mjs HOST PORT` (also run by Bun). Timeouts
// as in node-http.mjs (keep-alive raised to tray's 120 s channel_timeout), nothing else tuned.
import app from "./express-app.mjs";

const [host, port] = process.argv.slice(2);
const server = app.listen(Number(port), host, () => console.log(`express listening on http://${host}:${port}`));
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.requestTimeout = 0;
