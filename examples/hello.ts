// The smallest tray app: `tray examples/hello.ts` serves it on :8080.
export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    return new Response(`Hello from tray! You asked for ${url.pathname}\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
