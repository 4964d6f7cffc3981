// Request bodies with no framework: `tray examples/upload.ts`, then
// `curl -F file=@README.md localhost:8080` (multipart, read with formData()) or
// `curl -H 'content-type: application/json' -d '{"a":1}' localhost:8080` (read with json()).
// tray has the whole body before the app runs; large ones wait in a temp file, not in memory.
export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response("POST a form or JSON here\n");
    const type = request.headers.get("content-type") ?? "";
    if (type.startsWith("application/json")) return Response.json({ received: await request.json() });
    const form = await request.formData();
    const summary: Record<string, string | { name: string; size: number }> = {};
    for (const [name, value] of form) summary[name] = typeof value === "string" ? value : { name: value.name, size: value.size };
    return Response.json(summary);
  },
};
