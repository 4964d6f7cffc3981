// Makes the Worker's global Response follow the Fetch standard where Bun 1.4 does not, before the
// app is loaded, so every app behaves as it would under Deno, Node or a browser.
//
// Fetch "extract a body": a USVString body gets Content-Type `text/plain;charset=UTF-8` in the
// response's header list. Bun keeps that type out of response.headers and adds it only inside
// Bun.serve, so the pool — which sends what response.headers holds — would send plain-text
// bodies with no Content-Type at all (browsers then guess the charset: "é" turns into "Ã©").
// A Proxy keeps everything else as it was: instanceof, statics (Response.json), subclassing.
//
// The same hook remembers which responses were built from bytes already in memory (string,
// ArrayBuffer, typed array, URLSearchParams): their body can be taken whole and at once
// (hasMemoryBody), which is much cheaper than reading a ReadableStream. Blobs are left out: a
// Bun.file() Blob may be a huge file that must be streamed.
const TEXT_PLAIN = "text/plain;charset=UTF-8";

const memoryBodies = new WeakSet<Response>();

/** Built from a string or bytes (not a stream, Blob or FormData): response.bytes() settles at once. */
export function hasMemoryBody(response: Response): boolean {
  return memoryBodies.has(response);
}

export function installFetchGlobals(): void {
  const Native = globalThis.Response;
  globalThis.Response = new Proxy(Native, {
    construct(target, args: unknown[], newTarget) {
      const response = Reflect.construct(target, args, newTarget) as Response;
      const body = args[0];
      if (typeof body === "string") {
        if (!response.headers.has("content-type")) response.headers.set("content-type", TEXT_PLAIN);
        memoryBodies.add(response);
      } else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body) || body instanceof URLSearchParams) {
        memoryBodies.add(response);
      }
      return response;
    },
  });
}
