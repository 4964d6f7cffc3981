// itty-router: its AutoRouter is a fetch object, so `tray app.ts` serves it on :8080 as is.
import { AutoRouter } from "itty-router";

const router = AutoRouter();

router
  .get("/", () => new Response("Hello from itty-router on tray\n"))
  .get("/api/hello/:name", ({ params }) => ({ hello: params.name }));

export default router;
