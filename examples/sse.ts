// Server-Sent Events with no framework: `tray examples/sse.ts`, then `curl -N localhost:8080`
// prints one event a second; each reaches the client as it is written.
const encoder = new TextEncoder();

export default {
  fetch(): Response {
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let n = 0;
        const tick = () => controller.enqueue(encoder.encode(`id: ${++n}\ndata: ${new Date().toISOString()}\n\n`));
        tick();
        timer = setInterval(tick, 1000);
      },
      // The client went away (tray cancels the stream): stop the clock.
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
  },
};
