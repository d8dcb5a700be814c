import type { NodeDb } from "../db/openStateDatabase.js";

/**
 * The encapsulated keys of sealed requests this node opened, until their signed deadline passes. A sealed request
 * is bound to its stack, nonce and deadline (HPKE `info`), so once the deadline is past it cannot open anyway:
 * remembering keys until then is enough. With a database (the stack API's) the keys are kept there and survive a
 * restart (an encryption key given in code outlives one); without, in memory.
 */
export class ReplayGuard {
  readonly #db: NodeDb | undefined;
  /** enc → the signed request (`stackId/nonce`) that used it and its deadline (unix seconds). */
  readonly #seen = new Map<string, { owner: string; deadline: bigint }>();
  #claims = 0;

  constructor(db?: NodeDb) {
    this.#db = db;
  }

  /** True when `enc` was used, within its deadline, by a signed request other than `owner` (a resend is not). */
  async seenByOther(enc: string, owner: string, nowSeconds: bigint): Promise<boolean> {
    const key = enc.toLowerCase();
    const seen = this.#db
      ? await this.#db
          .selectFrom("confidential_replays")
          .select(["owner", "deadline"])
          .where("enc", "=", key)
          .executeTakeFirst()
      : this.#seen.get(key);
    return seen !== undefined && BigInt(seen.deadline) >= nowSeconds && seen.owner !== owner;
  }

  /**
   * Records that `owner` opened `enc`; false (nothing recorded) when another signed request holds it within its
   * deadline, checked and written at once (two openings racing cannot both win).
   */
  async claim(enc: string, owner: string, deadline: bigint, nowSeconds: bigint): Promise<boolean> {
    const key = enc.toLowerCase();
    this.#claims += 1;
    if (this.#claims % 256 === 0) await this.prune(nowSeconds);
    if (!this.#db) {
      const seen = this.#seen.get(key);
      if (seen && seen.deadline >= nowSeconds && seen.owner !== owner) return false;
      this.#seen.set(key, { owner, deadline });
      return true;
    }
    const row = await this.#db
      .insertInto("confidential_replays")
      .values({ enc: key, owner, deadline })
      .onConflict((oc) =>
        oc
          .column("enc")
          .doUpdateSet({ owner, deadline })
          .where((eb) =>
            eb.or([
              eb("confidential_replays.deadline", "<", nowSeconds),
              eb("confidential_replays.owner", "=", owner),
            ]),
          ),
      )
      .returning("owner")
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Forgets keys whose deadline passed. */
  async prune(nowSeconds: bigint): Promise<void> {
    if (this.#db) {
      await this.#db.deleteFrom("confidential_replays").where("deadline", "<", nowSeconds).execute();
      return;
    }
    for (const [enc, entry] of this.#seen) if (entry.deadline < nowSeconds) this.#seen.delete(enc);
  }
}
