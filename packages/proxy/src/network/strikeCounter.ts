import { type Kysely, sql } from "kysely";
import { databaseNowMs } from "../db/databaseClock.js";
import type { GatewayDatabase } from "../db/schema.js";
import { type CutVerdict, cutVerdict, NodeCuts, type NodeCutsOptions, sameCutEvent } from "./nodeCuts.js";
import type { SharedAnswers } from "./sharedAnswers.js";

/** How long a count waits for another gateway's count of the same node before it is skipped. */
const LOCK_WAIT_MS = 2_000;

/** PostgreSQL's `lock_not_available` (SQLSTATE 55P03): `lock_timeout` ran out. */
const lockTimedOut = (error: unknown): boolean =>
  typeof error === "object" && error !== null && (error as { code?: unknown }).code === "55P03";

/** The counters `StrikeCounter` keeps apart in the database. */
export type StrikeKind = "cut" | "overbilled_cut";

/** The gateway's database and the answers counted in it, where `StrikeCounter` keeps its events. */
export interface StrikeStore {
  db: Kysely<GatewayDatabase>;
  answers: SharedAnswers;
}

/**
 * A node's counted events (`NodeCuts`' rules), kept in the gateway's database (`node_strikes`) when it has one, so a
 * gateway restarted between a node's offences counts them as if it had not been, and gateways sharing a PostgreSQL
 * count each other's. Each count is one transaction holding an advisory lock on the node and kind: one broken link
 * cutting streams at N gateways at once is one event, not N (the burst rule needs each count to see the last, at
 * every gateway). Events are timed, windowed and pruned on the database's clock, never a gateway's own (a gateway
 * with a clock ahead would hide a node's later cuts as its burst, or prune the others' events within the window); a
 * stream's start is carried over as its age on the gateway's clock. Answers weigh against the events at every gateway
 * (`SharedAnswers`).
 */
export class StrikeCounter {
  readonly #cuts: NodeCuts;
  readonly #kind: StrikeKind;
  readonly #o: NodeCutsOptions;
  readonly #store: StrikeStore | undefined;
  readonly #now: () => number;
  /** Per node: its events within the window, as last counted here (for the logs). */
  readonly #counted = new Map<bigint, number>();
  /** Per node: the end of the counts queued for it in this process. */
  readonly #queue = new Map<bigint, Promise<void>>();

  constructor(
    kind: StrikeKind,
    options: NodeCutsOptions,
    store: StrikeStore | undefined,
    now: () => number = Date.now,
  ) {
    this.#cuts = new NodeCuts(options, now);
    this.#kind = kind;
    this.#o = options;
    this.#store = store;
    this.#now = now;
  }

  /** The clock a stream's `begunAt` is read from (this gateway's). */
  now(): number {
    return this.#now();
  }

  /** Counts an event of `nodeId` for a stream begun at `begunAt`; resolves to what its events now call for. */
  record(nodeId: bigint, begunAt: number): Promise<CutVerdict> {
    const store = this.#store;
    if (store === undefined) return Promise.resolve(this.#cuts.record(nodeId, begunAt));
    // One count per node at a time in this process: a broken link's many cuts queue here, each holding no pooled
    // connection while it waits, rather than each taking one to wait on the lock.
    const counted = (this.#queue.get(nodeId) ?? Promise.resolve()).then(() =>
      this.#recordIn(store, nodeId, begunAt),
    );
    const tail = counted.then(
      () => undefined,
      () => undefined,
    );
    this.#queue.set(nodeId, tail);
    void tail.then(() => {
      if (this.#queue.get(nodeId) === tail) this.#queue.delete(nodeId);
    });
    return counted;
  }

  /** Counts a request `nodeId` answered (without a database, in memory; the caller counts it in `SharedAnswers`). */
  answered(nodeId: bigint): void {
    if (this.#store === undefined) this.#cuts.answered(nodeId);
  }

  /** The node's events within the window, as last counted. */
  events(nodeId: bigint): number {
    return this.#store === undefined ? this.#cuts.events(nodeId) : (this.#counted.get(nodeId) ?? 0);
  }

  async #recordIn(store: StrikeStore, nodeId: bigint, begunAt: number): Promise<CutVerdict> {
    try {
      return await this.#countIn(store, nodeId, begunAt);
    } catch (error) {
      // Another gateway held the node's lock past LOCK_WAIT (a stalled process): it is counting this blip, or the
      // count is skipped; never a pooled connection held waiting for it.
      if (lockTimedOut(error)) return "none";
      throw error;
    }
  }

  #countIn(store: StrikeStore, nodeId: bigint, begunAt: number): Promise<CutVerdict> {
    return store.db.transaction().execute(async (trx) => {
      await sql.raw(`set local lock_timeout = '${LOCK_WAIT_MS}ms'`).execute(trx);
      await sql`select pg_advisory_xact_lock(hashtextextended(${`atoma-strikes:${this.#kind}:${nodeId}`}, 0))`.execute(
        trx,
      );
      const clock = await trx.selectNoFrom(databaseNowMs().as("now")).executeTakeFirstOrThrow();
      const now = Number(clock.now);
      // The stream's age is read as the database's clock is, after the lock: a count that waited does not move the
      // stream's start later on the database's clock (it would then look begun after the last event).
      const ageMs = Math.max(0, this.#now() - begunAt);
      const since = now - this.#o.windowMs;
      const rows = await trx
        .selectFrom("node_strikes")
        .select("at_ms")
        .where("node_id", "=", nodeId)
        .where("kind", "=", this.#kind)
        .where("at_ms", ">", BigInt(since))
        .orderBy("at_ms")
        .execute();
      const times = rows.map((row) => Number(row.at_ms));
      if (sameCutEvent(times.at(-1), now - ageMs, now, this.#o.burstMs ?? 2_000)) {
        this.#counted.set(nodeId, times.length);
        return "none";
      }
      await trx
        .insertInto("node_strikes")
        .values({ node_id: nodeId, kind: this.#kind, at_ms: BigInt(now) })
        .execute();
      // Events before the window (on the database's clock) count for nothing any more.
      await trx
        .deleteFrom("node_strikes")
        .where("node_id", "=", nodeId)
        .where("kind", "=", this.#kind)
        .where("at_ms", "<=", BigInt(since))
        .execute();
      this.#counted.set(nodeId, times.length + 1);
      return cutVerdict(times.length + 1, await store.answers.since(trx, nodeId, since), this.#o);
    });
  }
}
