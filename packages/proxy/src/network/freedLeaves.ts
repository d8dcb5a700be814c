import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";

/** Leaves remembered in memory before the oldest is forgotten. */
const MAX_REMEMBERED = 10_000;

/** A leaf freed longer ago than this is dropped when another is freed (a stack lives at most days). */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

/**
 * Leaves (`stackId:nonce`) whose request the node answered with an error after streaming part of it, or whose nonce
 * was freed on its word (its leaf read's unsigned `leaf_not_found`, a refusal outright: review 3 of h-gw, MEDIUM-4),
 * and that request's hash: the node later showing that leaf as another client's (adopted) bills a request it said
 * failed or never committed (refuse-then-bill). Kept in the gateway's database when it has one (`freed_leaves`), so a
 * node that waits for the gateway to restart before showing the leaf is caught all the same, by any gateway on one
 * PostgreSQL; in memory (bounded) otherwise. Written when a leaf is freed, read only for an adopted receipt.
 */
export class FreedLeaves {
  readonly #db: Kysely<GatewayDatabase> | undefined;
  readonly #now: () => number;
  readonly #memory = new Map<string, string>();

  constructor(db: Kysely<GatewayDatabase> | undefined, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Remembers that the request `reqHash` at `nonce` was given up on the node's word. */
  async free(stackId: bigint, nonce: bigint, reqHash: string): Promise<void> {
    const hash = reqHash.toLowerCase();
    this.#memory.set(`${stackId}:${nonce}`, hash);
    if (this.#memory.size > MAX_REMEMBERED) this.#memory.delete(this.#memory.keys().next().value as string);
    if (this.#db === undefined) return;
    const now = this.#now();
    await this.#db
      .insertInto("freed_leaves")
      .values({ stack_id: stackId, nonce, req_hash: hash, freed_at_ms: now })
      .onConflict((c) => c.columns(["stack_id", "nonce"]).doUpdateSet({ req_hash: hash, freed_at_ms: now }))
      .execute();
    await this.#db
      .deleteFrom("freed_leaves")
      .where("freed_at_ms", "<", BigInt(now - FORGET_AFTER_MS))
      .execute();
  }

  /**
   * Whether the leaf at `leaf` answering `reqHash` is one freed on the node's word (then forgotten: it is counted
   * once). Its receipt shown there is the node billing what it said it never committed.
   */
  async shownAfterFreed(stackId: bigint, leaf: bigint, reqHash: string): Promise<boolean> {
    const hash = reqHash.toLowerCase();
    const key = `${stackId}:${leaf}`;
    const inMemory = this.#memory.get(key) === hash;
    if (inMemory) this.#memory.delete(key);
    if (this.#db === undefined) return inMemory;
    const taken = await this.#db
      .deleteFrom("freed_leaves")
      .where("stack_id", "=", stackId)
      .where("nonce", "=", leaf)
      .where("req_hash", "=", hash)
      .returning("nonce")
      .execute();
    // This process's own word too, in case its write is still on its way.
    return inMemory || taken.length > 0;
  }
}
