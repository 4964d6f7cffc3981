// Pub/sub topics on the main thread: topic -> the WebSocket sessions subscribed to it, whichever
// Worker runs their handlers (DESIGN.md §3: pub/sub spans Workers).
//
// Strategy: a publish is framed once (RFC 6455 §5.2, unmasked) and the same bytes are handed to
// every subscriber; only a session that negotiated permessage-deflate and is asked to compress
// deflates for itself (its compressor's context is its own, RFC 7692 §7.2.1). Whenever a topic's
// subscriber count changes, `onCount` hears it (the pool tells every Worker, so subscriberCount()
// answers synchronously there).
import { encodeFrame } from "../http/websocket-frame.ts";

/** A session as the registry reaches it. */
export interface TopicSubscriber {
  /** The WebSocket's id (its upgrade request's pool id): a publisher may exclude itself. */
  readonly id: number;
  /** One published message: `frame` is it framed uncompressed; the subscriber may instead frame
   *  `payload` itself (compress and a negotiated deflate). */
  deliver(frame: Uint8Array, opcode: number, payload: Uint8Array, compress: boolean): void;
}

export class WebSocketTopics {
  private readonly topics = new Map<string, Set<TopicSubscriber>>();

  constructor(private readonly onCount: (topic: string, count: number) => void = () => {}) {}

  subscribe(topic: string, subscriber: TopicSubscriber): void {
    let set = this.topics.get(topic);
    if (set === undefined) this.topics.set(topic, (set = new Set()));
    if (set.has(subscriber)) return;
    set.add(subscriber);
    this.onCount(topic, set.size);
  }

  unsubscribe(topic: string, subscriber: TopicSubscriber): void {
    const set = this.topics.get(topic);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size === 0) this.topics.delete(topic);
    this.onCount(topic, set.size);
  }

  count(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** To every subscriber but `excludeId` (0: none); returns how many it reached. */
  publish(topic: string, opcode: number, compress: boolean, excludeId: number, payload: Uint8Array): number {
    const set = this.topics.get(topic);
    if (set === undefined) return 0;
    let frame: Uint8Array | null = null;
    let n = 0;
    for (const subscriber of set) {
      if (subscriber.id === excludeId) continue;
      frame ??= encodeFrame(opcode, payload);
      subscriber.deliver(frame, opcode, payload, compress);
      n++;
    }
    return n;
  }
}
