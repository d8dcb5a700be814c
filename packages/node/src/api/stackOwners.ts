import type { Address } from "viem";
import { getStack } from "../accounting/stacks.js";
import type { NodeDb } from "../db/openStateDatabase.js";

export interface StackParties {
  owner: Address;
  servingNodeId: bigint;
}

/**
 * Who owns and who serves each stack, remembered after the first read: both are fixed when a stack is bought,
 * so every request after the first skips a database read. Bounded: the oldest entries go first.
 */
export class StackOwners {
  readonly #db: NodeDb;
  readonly #max: number;
  readonly #known = new Map<bigint, StackParties>();

  constructor(db: NodeDb, max = 10_000) {
    this.#db = db;
    this.#max = max;
  }

  async get(stackId: bigint): Promise<StackParties | undefined> {
    const known = this.#known.get(stackId);
    if (known) return known;
    const stack = await getStack(this.#db, stackId);
    if (!stack) return undefined;
    const parties = { owner: stack.owner, servingNodeId: stack.servingNodeId };
    if (this.#known.size >= this.#max) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(stackId, parties);
    return parties;
  }
}
