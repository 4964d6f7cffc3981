// The routes of handlers.mjs as an Express 4 app, written the way Express apps are (res.send,
// its default ETag and X-Powered-By left on). tray serves the default export (--interface=auto
// finds a (req, res, next) function); express-listen.mjs runs it on node:http under Node or Bun.
//
// Express is not a dependency of tray: express.ts installs it into the bench cache, and
// TRAY_BENCH_EXPRESS names that directory (its node_modules holds express).
import { createRequire } from "node:module";
import { BIG_BODY, HELLO, JSON_TYPE, TEXT, renderJson } from "./handlers.mjs";

const require = createRequire(process.env.TRAY_BENCH_EXPRESS ? `${process.env.TRAY_BENCH_EXPRESS}/` : import.meta.url);
const express = require("express");

const app = express();
app.get("/", (req, res) => res.type(TEXT).send(HELLO));
app.get("/64k", (req, res) => res.type(TEXT).send(BIG_BODY));
app.get("/json", (req, res) => res.type(JSON_TYPE).send(renderJson()));
app.post("/upload", (req, res) => {
  let n = 0;
  req.on("data", (chunk) => (n += chunk.length));
  req.on("end", () => res.type(TEXT).send(String(n)));
});
app.use((req, res) => res.status(404).type(TEXT).send("Not Found"));

export default app;
