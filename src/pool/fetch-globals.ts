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
// Bun.file() Blob may be a huge file that must be streamed; their size is remembered instead
// (blobBodyLength), so a file goes out with its Content-Length rather than chunked.
const TEXT_PLAIN = "text/plain;charset=UTF-8";

const memoryBodies = new WeakSet<Response>();
/** Responses built from a Blob (Bun.file() included) with their size when it is known (> 0). */
const blobLengths = new WeakMap<Response, number>();

/** Built from a string or bytes (not a stream, Blob or FormData): response.bytes() settles at once. */
export function hasMemoryBody(response: Response): boolean {
  return memoryBodies.has(response);
}

/** The size of the Blob or file a response was built from, or -1: a file's size is sent as its
 *  Content-Length, as Bun.serve does, instead of chunked framing. An empty or missing file (size 0:
 *  Bun reports 0 for both) is not declared: its read may yet fail. */
export function blobBodyLength(response: Response): number {
  return blobLengths.get(response) ?? -1;
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
      } else if (body instanceof Blob) {
        const size = body.size;
        if (size > 0 && Number.isSafeInteger(size)) blobLengths.set(response, size);
      }
      return response;
    },
  });
}
