// h3 v2: an H3 app has a fetch method, so `tray app.ts` serves it on :8080 as is.
import { H3, getRouterParam } from "h3";

const app = new H3()
  .get("/", () => "Hello from h3 on tray\n")
  .get("/api/hello/:name", (event) => ({ hello: getRouterParam(event, "name") }));

export default app;
