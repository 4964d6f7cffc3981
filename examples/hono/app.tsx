// Hono, unchanged from how it runs on Bun: `tray app.tsx` serves it on :8080.
import { Hono } from "hono";
import type { FC } from "hono/jsx";
import { getConnInfo } from "hono/bun";

const Page: FC<{ address: string }> = ({ address }) => (
  <html>
    <body>
      <h1>Hello from Hono on tray</h1>
      <p>Your address: {address}</p>
    </body>
  </html>
);

const app = new Hono();

app.get("/", (c) => c.html(<Page address={getConnInfo(c).remote.address ?? "unknown"} />));
app.get("/api/hello/:name", (c) => c.json({ hello: c.req.param("name") }));

export default app;
