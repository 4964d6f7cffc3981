// The fetch-style app (Web Request -> Response): tray and `deno serve` load this module's default
// export directly; bun-serve.mjs hands its fetch to Bun.serve. Routes are described in handlers.mjs.
import { BIG_BODY, HELLO, JSON_TYPE, TEXT, countStream, renderJson } from "./handlers.mjs";

export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/":
        return new Response(HELLO, { headers: { "content-type": TEXT } });
      case "/64k":
        return new Response(BIG_BODY, { headers: { "content-type": TEXT } });
      case "/json":
        return new Response(renderJson(), { headers: { "content-type": JSON_TYPE } });
      case "/upload": {
        const n = await countStream(request.body);
        return new Response(String(n), { headers: { "content-type": TEXT } });
      }
      default:
        return new Response("Not Found", { status: 404, headers: { "content-type": TEXT } });
    }
  },
};
