// Elysia, unchanged from how it runs on Bun minus .listen(): `tray app.ts` serves it on :8080.
import { Elysia, t } from "elysia";

const app = new Elysia()
  .get("/", () => "Hello from Elysia on tray\n")
  .get("/api/hello/:name", ({ params }) => ({ hello: params.name }))
  .post("/api/echo", ({ body }) => body, { body: t.Object({ message: t.String() }) });

export default app;
