import type { Hash } from "@atoma/core";
import type { Kysely } from "kysely";
import type { Hex } from "viem";
import type { GatewayDatabase } from "../db/schema.js";

/** Leaves remembered in memory before the oldest is forgotten. */
const MAX_REMEMBERED = 10_000;

/** A leaf freed longer ago than this is dropped when another is freed (one holding a denial: once it is checked). */
const FORGET_AFTER_MS = 7 * 24 * 3_600_000;

/** A nonce freed on the node's signed word: the request it denied there, and the node's signature. */
export interface FreedDenial {
  stackId: bigint;
  nonce: bigint;
  reqHash: Hash;
  signature: Hex;
}

interface Remembered {
  denial: Hex | undefined;
  shown: boolean;
}

/**
 * Leaves (`stackId:nonce`) whose request the node answered with an error after streaming part of it, or whose nonce
 * was freed on its word (its leaf read's `leaf_not_found` with its signed `AtomaLeafDenial` of that request there, or
 * a refusal outright), and that request's hash: the node later showing that leaf as another client's (adopted) bills
 * a request it said failed or never committed (refuse-then-bill). A freed nonce's denial is kept until the stack's
 * settlement is checked against it (`DeniedLeafProver`): the denied request's leaf settled there is slashed on-chain.
 * Kept in the gateway's database when it has one (`freed_leaves`), so a node that waits for the gateway to restart is
 * caught all the same, by any gateway on one PostgreSQL; in memory (bounded) otherwise.
 */
export class FreedLeaves {
  readonly #db: Kysely<GatewayDatabase> | undefined;
  readonly #now: () => number;
  readonly #memory = new Map<string, Remembered>();

  constructor(db: Kysely<GatewayDatabase> | undefined, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Remembers that the request `reqHash` at `nonce` was given up on the node's word (`denial`: its signature). */
  async free(stackId: bigint, nonce: bigint, reqHash: string, denial?: Hex): Promise<void> {
    const hash = reqHash.toLowerCase();
    this.#memory.set(`${stackId}:${nonce}:${hash}`, { denial, shown: false });
    if (this.#memory.size > MAX_REMEMBERED) this.#memory.delete(this.#memory.keys().next().value as string);
    if (this.#db === undefined) return;
    const now = this.#now();
    const signature = denial ?? null;
    await this.#db
      .insertInto("freed_leaves")
      .values({ stack_id: stackId, nonce, req_hash: hash, freed_at_ms: now, denial_signature: signature })
      .onConflict((c) =>
        c.columns(["stack_id", "nonce", "req_hash"]).doUpdateSet((eb) => ({
          freed_at_ms: now,
          shown: false,
          // A denial once held is never traded for none.
          denial_signature: eb.fn.coalesce(eb.val(signature), "freed_leaves.denial_signature"),
        })),
      )
      .execute();
    // A denial stays until its stack's settlement is checked against it (`forgetDenial`): a stack outlives a week.
    await this.#db
      .deleteFrom("freed_leaves")
      .where("freed_at_ms", "<", BigInt(now - FORGET_AFTER_MS))
      .where("denial_signature", "is", null)
      .execute();
  }

  /**
   * Whether the leaf at `leaf` answering `reqHash` is one freed on the node's word (counted once). Its receipt shown
   * there is the node billing what it said it never committed.
   */
  async shownAfterFreed(stackId: bigint, leaf: bigint, reqHash: string): Promise<boolean> {
    const hash = reqHash.toLowerCase();
    const remembered = this.#memory.get(`${stackId}:${leaf}:${hash}`);
    const inMemory = remembered !== undefined && !remembered.shown;
    if (remembered) remembered.shown = true;
    if (this.#db === undefined) return inMemory;
    const taken = await this.#db
      .updateTable("freed_leaves")
      .set({ shown: true })
      .where("stack_id", "=", stackId)
      .where("nonce", "=", leaf)
      .where("req_hash", "=", hash)
      .where("shown", "=", false)
      .returning("nonce")
      .execute();
    // This process's own word too, in case its write is still on its way.
    return inMemory || taken.length > 0;
  }

  /** Whether this process holds the node's denial of `reqHash` at `nonce` (memory only: asked on the hot path). */
  deniedHere(stackId: bigint, nonce: bigint, reqHash: string): boolean {
    return this.#memory.get(`${stackId}:${nonce}:${reqHash.toLowerCase()}`)?.denial !== undefined;
  }

  /** The stack's nonces freed on the node's signed denial, not yet checked against its settlement. */
  async denialsOf(stackId: bigint): Promise<FreedDenial[]> {
    const found = new Map<string, FreedDenial>();
    for (const [key, { denial }] of this.#memory) {
      const [stack, nonce, reqHash] = key.split(":") as [string, string, string];
      if (denial !== undefined && BigInt(stack) === stackId)
        found.set(key, { stackId, nonce: BigInt(nonce), reqHash: reqHash as Hash, signature: denial });
    }
    if (this.#db !== undefined) {
      const rows = await this.#db
        .selectFrom("freed_leaves")
        .select(["nonce", "req_hash", "denial_signature"])
        .where("stack_id", "=", stackId)
        .where("denial_signature", "is not", null)
        .execute();
      for (const row of rows)
        found.set(`${stackId}:${row.nonce}:${row.req_hash}`, {
          stackId,
          nonce: BigInt(row.nonce),
          reqHash: row.req_hash as Hash,
          signature: row.denial_signature as Hex,
        });
    }
    return [...found.values()].sort((a, b) => (a.nonce < b.nonce ? -1 : a.nonce > b.nonce ? 1 : 0));
  }

  /** The stacks holding a denial not yet checked against their settlement. */
  async stacksWithDenials(): Promise<bigint[]> {
    const ids = new Set<bigint>();
    for (const [key, { denial }] of this.#memory)
      if (denial !== undefined) ids.add(BigInt(key.split(":")[0] as string));
    if (this.#db !== undefined) {
      const rows = await this.#db
        .selectFrom("freed_leaves")
        .select("stack_id")
        .distinct()
        .where("denial_signature", "is not", null)
        .execute();
      for (const row of rows) ids.add(BigInt(row.stack_id));
    }
    return [...ids];
  }

  /** Forgets a denial once the stack's settlement was checked against it (proven, or the nonce honestly reused). */
  async forgetDenial(denial: FreedDenial): Promise<void> {
    this.#memory.delete(`${denial.stackId}:${denial.nonce}:${denial.reqHash}`);
    if (this.#db === undefined) return;
    await this.#db
      .deleteFrom("freed_leaves")
      .where("stack_id", "=", denial.stackId)
      .where("nonce", "=", denial.nonce)
      .where("req_hash", "=", denial.reqHash)
      .execute();
  }
}
