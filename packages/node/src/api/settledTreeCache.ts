import type { Hash, StackTree } from "@atoma/core";

/** A settled stack's leaves (those frozen for its settlement, in index order) and their tree. */
export interface SettledLeaves {
  rows: {
    leaf_index: bigint;
    leaf_hash: string;
    nonce: bigint | null;
    req_hash: string;
    resp_hash: string;
    units: bigint;
    cumulative_units: bigint;
  }[];
  tree: StackTree;
}

/** Leaves held across all cached stacks unless told otherwise: some tens of megabytes at most. */
const DEFAULT_MAX_LEAVES = 262_144;

/**
 * The trees of settled stacks, most recently used kept: a settled stack's leaves and root never change, so a proof
 * request need not read and hash them all again. Bounded by the leaves held in all (a stack with more than the
 * bound is never cached); keyed by the stack with its root and leaf count, so a settlement posted again misses.
 */
export class SettledTreeCache {
  readonly #entries = new Map<string, SettledLeaves>();
  #leaves = 0;

  constructor(readonly maxLeaves: number = DEFAULT_MAX_LEAVES) {}

  static key(stackId: bigint, root: string, leafCount: bigint): string {
    return `${stackId}:${root.toLowerCase() as Hash}:${leafCount}`;
  }

  get(key: string): SettledLeaves | undefined {
    const found = this.#entries.get(key);
    if (found) {
      this.#entries.delete(key);
      this.#entries.set(key, found);
    }
    return found;
  }

  set(key: string, leaves: SettledLeaves): void {
    if (leaves.rows.length > this.maxLeaves || this.#entries.has(key)) return;
    for (const [oldest, entry] of this.#entries) {
      if (this.#leaves + leaves.rows.length <= this.maxLeaves) break;
      this.#entries.delete(oldest);
      this.#leaves -= entry.rows.length;
    }
    this.#entries.set(key, leaves);
    this.#leaves += leaves.rows.length;
  }
}
