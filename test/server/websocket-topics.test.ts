// The main thread's topic registry (src/server/websocket-topics.ts): who hears a publish, that it
// is framed once for all, and that every count change is reported.
import { describe, expect, test } from "bun:test";
import { WebSocketTopics, type TopicSubscriber } from "../../src/server/websocket-topics.ts";

function subscriber(id: number): TopicSubscriber & { got: Uint8Array[] } {
  const got: Uint8Array[] = [];
  return { id, got, deliver: (frame) => void got.push(frame) };
}

describe("WebSocketTopics", () => {
  test("a publish reaches every subscriber but the excluded one, as one shared unmasked frame", () => {
    const topics = new WebSocketTopics();
    const [a, b, c] = [subscriber(1), subscriber(2), subscriber(3)];
    for (const s of [a, b, c]) topics.subscribe("room", s);
    expect(topics.publish("room", 1, false, 1, new TextEncoder().encode("hi"))).toBe(2);
    expect(a.got).toEqual([]);
    expect(Array.from(b.got[0])).toEqual([0x81, 0x02, 0x68, 0x69]); // RFC 6455 §5.2: FIN, text, unmasked
    expect(c.got[0]).toBe(b.got[0]);
    expect(topics.publish("room", 2, false, 0, new Uint8Array([7]))).toBe(3);
    expect(topics.publish("nobody", 1, false, 0, new Uint8Array(0))).toBe(0);
  });

  test("counts are reported on every change, and a topic with no subscribers is forgotten", () => {
    const counts: [string, number][] = [];
    const topics = new WebSocketTopics((topic, n) => counts.push([topic, n]));
    const [a, b] = [subscriber(1), subscriber(2)];
    topics.subscribe("t", a);
    topics.subscribe("t", a); // again: no change
    topics.subscribe("t", b);
    topics.unsubscribe("t", a);
    topics.unsubscribe("t", a); // not subscribed: no change
    topics.unsubscribe("t", b);
    expect(counts).toEqual([["t", 1], ["t", 2], ["t", 1], ["t", 0]]);
    expect(topics.count("t")).toBe(0);
  });
});
