import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";
import type { CutRequest } from "./overbilledCut.js";

/** Cut requests remembered in memory before the oldest is forgotten (its request is then resent, not read). */
const MAX_REMEMBERED = 10_000;

/**
 * The gateway's requests left with no receipt after their client stopped them or their stream was cut, by leaf
 * (`stackId:nonce`): the stack's next request reads such a leaf before any resend (`readLeafFirst`), and its receipt
 * is measured against what the stream carried (`overbilledCut`). Kept in the gateway's database too when it has one
 * (`cut_requests`), so a node that waits for the gateway to restart before billing the leaf is measured all the same.
 * Looked up in memory on the request path: a stack's rows are read back once per process, at its first request that
 * finds requests pending there (none do on a stack with no cut).
 */
export class CutRequests {
  readonly #db: Kysely<GatewayDatabase> | undefined;
  readonly #now: () => number;
  readonly #memory = new Map<string, CutRequest>();
  readonly #loaded = new Set<bigint>();

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
    const row = {
      req_hash: cut.reqHash,
      relayed_units: cut.relayedUnits,
      streamed: cut.streamed,
      cut_at_ms: this.#now(),
    };
    await this.#db
      ?.insertInto("cut_requests")
      .values({ stack_id: stackId, nonce, ...row })
      .onConflict((c) => c.columns(["stack_id", "nonce"]).doUpdateSet(row))
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
   * Reads back, once per process, the stack's cut requests at the nonces still `pending` there (an earlier run's, or
   * another gateway's that held the stack); rows at other nonces are spent and dropped.
   */
  async load(stackId: bigint, pending: readonly bigint[]): Promise<void> {
    if (this.#db === undefined || this.#loaded.has(stackId)) return;
    this.#loaded.add(stackId);
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
