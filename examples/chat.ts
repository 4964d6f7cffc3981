// A chat room over WebSockets in Bun.serve's shape: the page at / connects to /ws?name=..., every
// message is published to the "room" topic, and tray carries it to every client on every Worker
// (try --threads=2). No framework, no listen(): `tray examples/chat.ts`.
type Member = { name: string };

interface Server {
  upgrade(request: Request, options: { data: Member }): boolean;
  publish(topic: string, message: string): number;
  subscriberCount(topic: string): number;
}

interface Socket {
  data: Member;
  send(message: string): number;
  subscribe(topic: string): void;
  publish(topic: string, message: string): number;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>tray chat</title>
<ul id="log"></ul><form id="f"><input id="m" autocomplete="off" autofocus><button>send</button></form>
<script>
const name = prompt("your name") || "anon";
const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws?name=" + encodeURIComponent(name));
ws.onmessage = (e) => { const li = document.createElement("li"); li.textContent = e.data; log.append(li); };
f.onsubmit = (e) => { e.preventDefault(); ws.send(m.value); m.value = ""; };
</script>`;

export default {
  fetch(request: Request, server: Server): Response | undefined {
    const url = new URL(request.url);
    if (url.pathname === "/ws") {
      const name = (url.searchParams.get("name") ?? "anon").slice(0, 32);
      if (server.upgrade(request, { data: { name } })) return undefined;
      return new Response("this is the chat's WebSocket endpoint", { status: 400 });
    }
    if (url.pathname === "/who") return new Response(`${server.subscriberCount("room")} in the room\n`);
    return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
  },
  websocket: {
    open(ws: Socket) {
      ws.subscribe("room");
      ws.publish("room", `${ws.data.name} joined`);
      ws.send(`welcome, ${ws.data.name}`);
    },
    message(ws: Socket, message: string | Buffer) {
      // publishToSelf is off (Bun's default): the sender sees its own line from here.
      const line = `${ws.data.name}: ${String(message)}`;
      ws.publish("room", line);
      ws.send(line);
    },
    // Its topics are dropped when a socket closes; a closed socket can no longer publish (as in Bun).
  },
};
