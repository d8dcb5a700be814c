import { randomUUID } from "node:crypto";
import { type Logger, silentLogger } from "@atoma/core";
import type { Redis } from "ioredis";
import type { HealthEvent, NodeHealthBook } from "./nodeHealthBook.js";

interface WireEvent {
  from: string;
  kind: HealthEvent["kind"];
  nodeId: string;
  until?: number;
  reason?: string;
}

/**
 * Shares node health between gateways through Redis pub/sub: a cooldown or a removal one gateway decides is
 * applied by every other (a node whose receipt failed leaves every gateway's rotation). Removals are also kept in
 * a Redis set, so a gateway that starts later learns them.
 */
export class RedisHealthChannel {
  readonly #id = randomUUID();
  readonly #channel: string;
  readonly #removedKey: string;
  readonly #logger: Logger;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly book: NodeHealthBook,
    options: { prefix?: string | undefined; logger?: Logger | undefined } = {},
  ) {
    const prefix = options.prefix ?? "atoma:proxy:";
    this.#channel = `${prefix}health`;
    this.#removedKey = `${prefix}removed-nodes`;
    this.#logger = (options.logger ?? silentLogger).child({ module: "health-channel" });
  }

  async start(): Promise<void> {
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel === this.#channel) this.#receive(message);
    });
    await this.subscriber.subscribe(this.#channel);
    for (const nodeId of await this.publisher.smembers(this.#removedKey))
      if (/^\d{1,78}$/.test(nodeId))
        this.book.apply({ kind: "removed", nodeId: BigInt(nodeId), reason: "shared" });
    this.book.onEvent = (event) => this.#publish(event);
  }

  #publish(event: HealthEvent): void {
    const wire: WireEvent = {
      from: this.#id,
      kind: event.kind,
      nodeId: String(event.nodeId),
      ...(event.kind === "cooldown" ? { until: event.until } : { reason: event.reason }),
    };
    const sent = [this.publisher.publish(this.#channel, JSON.stringify(wire))];
    if (event.kind === "removed") sent.push(this.publisher.sadd(this.#removedKey, String(event.nodeId)));
    Promise.all(sent).catch((error: unknown) =>
      this.#logger.warn({ err: error }, "sharing a node's health through Redis failed"),
    );
  }

  #receive(message: string): void {
    try {
      const wire = JSON.parse(message) as WireEvent;
      if (wire.from === this.#id || !/^\d{1,78}$/.test(wire.nodeId)) return;
      const nodeId = BigInt(wire.nodeId);
      if (wire.kind === "removed") this.book.apply({ kind: "removed", nodeId, reason: String(wire.reason) });
      else if (wire.kind === "cooldown" && typeof wire.until === "number" && Number.isFinite(wire.until))
        this.book.apply({ kind: "cooldown", nodeId, until: wire.until });
    } catch {
      // not ours, or garbled: ignored
    }
  }
}
