import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";
import type { CutRequest } from "./overbilledCut.js";

/** A cut request noted longer ago than this is dropped when another is noted (a stack lives at most days). */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

/** Cut requests remembered in memory before the oldest is forgotten (its request is then resent, not read). */
const MAX_REMEMBERED = 10_000;

/**
 * The gateway's requests left with no receipt after their client stopped them or their stream was cut, by leaf
 * (`stackId:nonce`): the stack's next request reads such a leaf before any resend (`readLeafFirst`), and its receipt
 * is measured against what the stream carried (`overbilledCut`). Kept in the gateway's database too when it has one
 * (`cut_requests`), so a node that waits for the gateway to restart before billing the leaf is measured all the same.
 * Looked up in memory on the request path: a stack's rows are read back at a request that finds requests pending there
 * not remembered here (none do on a stack with no cut), so another gateway's later cut of a stack it held is seen
 * when this one leases the stack again.
 */
export class CutRequests {
  readonly #db: Kysely<GatewayDatabase> | undefined;
  readonly #now: () => number;
  readonly #memory = new Map<string, CutRequest>();

  constructor(db: Kysely<GatewayDatabase> | undefined, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  get(stackId: bigint, nonce: bigint): CutRequest | undefined {
    return this.#memory.get(`${stackId}:${nonce}`);
  }

  /** Remembers the cut request at `nonce`. */
  async set(stackId: bigint, nonce: bigint, cut: CutRequest): Promise<void> {
    this.#memory.set(`${stackId}:${nonce}`, cut);
    if (this.#memory.size > MAX_REMEMBERED) this.#memory.delete(this.#memory.keys().next().value as string);
    const now = this.#now();
    const row = {
      req_hash: cut.reqHash,
      relayed_units: cut.relayedUnits,
      streamed: cut.streamed,
      cut_at_ms: now,
    };
    if (this.#db === undefined) return;
    await this.#db
      .insertInto("cut_requests")
      .values({ stack_id: stackId, nonce, ...row })
      .onConflict((c) => c.columns(["stack_id", "nonce"]).doUpdateSet(row))
      .execute();
    await this.#db
      .deleteFrom("cut_requests")
      .where("cut_at_ms", "<", BigInt(now - FORGET_AFTER_MS))
      .execute();
  }

  /** Forgets the request at `nonce` (its receipt came, its nonce was signed afresh, its stack retired). */
  async delete(stackId: bigint, nonce: bigint): Promise<void> {
    // A statement only for one remembered here: this runs on the request path.
    if (!this.#memory.delete(`${stackId}:${nonce}`)) return;
    await this.#db
      ?.deleteFrom("cut_requests")
      .where("stack_id", "=", stackId)
      .where("nonce", "=", nonce)
      .execute();
  }

  /**
   * Reads back the stack's cut requests at the nonces still `pending` there (an earlier run's, or another gateway's
   * that held the stack) unless all are remembered; rows at other nonces are spent and dropped, as are rows older than
   * a week (a stack lives at most days).
   */
  async load(stackId: bigint, pending: readonly bigint[]): Promise<void> {
    if (this.#db === undefined || pending.every((nonce) => this.#memory.has(`${stackId}:${nonce}`))) return;
    const rows = await this.#db
      .selectFrom("cut_requests")
      .selectAll()
      .where("stack_id", "=", stackId)
      .execute();
    const open = new Set(pending);
    for (const row of rows) {
      const key = `${stackId}:${row.nonce}`;
      if (open.has(row.nonce)) {
        if (!this.#memory.has(key))
          this.#memory.set(key, {
            reqHash: row.req_hash,
            relayedUnits: row.relayed_units,
            streamed: row.streamed,
          });
      } else if (!this.#memory.has(key))
        await this.#db
          .deleteFrom("cut_requests")
          .where("stack_id", "=", stackId)
          .where("nonce", "=", row.nonce)
          .execute();
    }
  }
}
