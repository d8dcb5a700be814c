import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";
import { type CutVerdict, NodeCuts, type NodeCutsOptions } from "./nodeCuts.js";

/** The counters `StrikeCounter` keeps apart in the database. */
export type StrikeKind = "cut" | "overbilled_cut";

/**
 * A `NodeCuts` whose counted events live in the gateway's database (`node_strikes`) when it has one: before each count
 * the node's events within the window are read back, and an event counted is written, so a gateway restarted between
 * a node's offences counts them as if it had not been, and gateways sharing a PostgreSQL count each other's. Counts run
 * one at a time in a process (one broken link cuts many streams at once: the burst rule needs each count to see the
 * last). Answered requests, which only weigh a removal, stay in memory: they are counted on the request path, where
 * the gateway runs no statement.
 */
export class StrikeCounter {
  readonly #cuts: NodeCuts;
  readonly #kind: StrikeKind;
  readonly #windowMs: number;
  readonly #db: Kysely<GatewayDatabase> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    kind: StrikeKind,
    options: NodeCutsOptions,
    db: Kysely<GatewayDatabase> | undefined,
    now: () => number = Date.now,
  ) {
    this.#cuts = new NodeCuts(options, now);
    this.#kind = kind;
    this.#windowMs = options.windowMs;
    this.#db = db;
  }

  /** The clock events are counted on (a stream's `begunAt` is read from it). */
  now(): number {
    return this.#cuts.now();
  }

  /** Counts an event of `nodeId` for a stream begun at `begunAt`; resolves to what its events now call for. */
  record(nodeId: bigint, begunAt: number): Promise<CutVerdict> {
    const db = this.#db;
    if (db === undefined) return Promise.resolve(this.#cuts.record(nodeId, begunAt));
    const counted = this.#queue.then(() => this.#recordIn(db, nodeId, begunAt));
    this.#queue = counted.catch(() => undefined);
    return counted;
  }

  /** Counts a request `nodeId` answered (per process, in memory). */
  answered(nodeId: bigint): void {
    this.#cuts.answered(nodeId);
  }

  /** The node's events within the window, as last counted. */
  events(nodeId: bigint): number {
    return this.#cuts.events(nodeId);
  }

  async #recordIn(db: Kysely<GatewayDatabase>, nodeId: bigint, begunAt: number): Promise<CutVerdict> {
    const since = this.now() - this.#windowMs;
    const rows = await db
      .selectFrom("node_strikes")
      .select("at_ms")
      .where("node_id", "=", nodeId)
      .where("kind", "=", this.#kind)
      .where("at_ms", ">", BigInt(since))
      .orderBy("at_ms")
      .execute();
    this.#cuts.restore(
      nodeId,
      rows.map((row) => Number(row.at_ms)),
    );
    const before = this.#cuts.events(nodeId);
    const verdict = this.#cuts.record(nodeId, begunAt);
    const counted = this.#cuts.lastEvent(nodeId);
    if (counted !== undefined && this.#cuts.events(nodeId) > before) {
      await db
        .insertInto("node_strikes")
        .values({ node_id: nodeId, kind: this.#kind, at_ms: counted })
        .execute();
      // Events before the window count for nothing any more.
      await db
        .deleteFrom("node_strikes")
        .where("node_id", "=", nodeId)
        .where("kind", "=", this.#kind)
        .where("at_ms", "<=", BigInt(since))
        .execute();
    }
    return verdict;
  }
}
