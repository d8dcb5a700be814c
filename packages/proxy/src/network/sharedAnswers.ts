import { type Kysely, sql } from "kysely";
import { databaseNowMs } from "../db/databaseClock.js";
import type { GatewayDatabase } from "../db/schema.js";

/** How often a gateway writes the requests each node answered since it last did (never once per request). */
const FLUSH_EVERY_MS = 2_000;

/**
 * The requests each node answered, kept in the gateway's database (`node_answers`) so that a node's cut events, shared
 * by every gateway on it and kept past a restart, are weighed against its answers at every gateway and from before
 * the restart (review of issue 12: per-process answers removed an honest busy node at a fraction of the share with N
 * gateways, or just after a restart). Counted in memory on the request path; written in one statement at most every
 * `FLUSH_EVERY_MS` (the count of a crash's last seconds is lost, which only weighs against the node), each batch timed
 * on the database's clock and added to its slice of the window (a twentieth of it, as `NodeCuts` keeps them in
 * memory), so the table holds about twenty rows per node however many gateways flush and however long the window.
 */
export class SharedAnswers {
  readonly #db: Kysely<GatewayDatabase>;
  readonly #windowMs: number;
  readonly #sliceMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => number;
  #pending = new Map<bigint, number>();
  #lastFlush: number;
  #flushing: Promise<void> = Promise.resolve();

  constructor(
    db: Kysely<GatewayDatabase>,
    windowMs: number,
    onError: (error: unknown) => void,
    now: () => number = Date.now,
  ) {
    this.#db = db;
    this.#windowMs = windowMs;
    this.#onError = onError;
    this.#now = now;
    this.#lastFlush = now();
    this.#sliceMs = Math.max(1, Math.floor(windowMs / 20));
  }

  /** Counts a request `nodeId` answered; writes the batch in the background when it is due. */
  answered(nodeId: bigint): void {
    this.#pending.set(nodeId, (this.#pending.get(nodeId) ?? 0) + 1);
    if (this.#now() - this.#lastFlush >= FLUSH_EVERY_MS) void this.flush().catch(this.#onError);
  }

  /** Writes the answers counted since the last batch, and drops batches older than the window. */
  flush(): Promise<void> {
    this.#lastFlush = this.#now();
    const batch = this.#pending;
    this.#pending = new Map();
    const next = this.#flushing.then(() => this.#write(batch));
    this.#flushing = next.catch(() => undefined);
    return next;
  }

  /**
   * `nodeId`'s answers at every gateway in the slices that start after the one `sinceMs` falls in (on the database's
   * clock; as `NodeCuts` counts them in memory), and this one's not yet written.
   */
  async since(db: Kysely<GatewayDatabase>, nodeId: bigint, sinceMs: number): Promise<number> {
    const row = await db
      .selectFrom("node_answers")
      .select((eb) => eb.fn.sum<string | number | bigint | null>("count").as("total"))
      .where("node_id", "=", nodeId)
      .where("at_ms", ">", BigInt(Math.floor(sinceMs / this.#sliceMs) * this.#sliceMs))
      .executeTakeFirst();
    return Number(row?.total ?? 0) + (this.#pending.get(nodeId) ?? 0);
  }

  async #write(batch: Map<bigint, number>): Promise<void> {
    const slice = this.#sliceMs;
    if (batch.size > 0)
      await this.#db
        .insertInto("node_answers")
        .values(
          [...batch].map(([nodeId, count]) => ({
            node_id: nodeId,
            at_ms: sql<bigint>`(${databaseNowMs()} / ${slice}::bigint) * ${slice}::bigint`,
            count: BigInt(count),
          })),
        )
        .onConflict((oc) =>
          oc.columns(["node_id", "at_ms"]).doUpdateSet({ count: sql`node_answers.count + excluded.count` }),
        )
        .execute();
    // Slices wholly before the window.
    await this.#db
      .deleteFrom("node_answers")
      .where("at_ms", "<=", sql<bigint>`${databaseNowMs()} - ${Math.trunc(this.#windowMs) + slice}::bigint`)
      .execute();
  }
}
