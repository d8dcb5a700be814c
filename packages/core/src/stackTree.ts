import { concatHex, isHex, keccak256 } from "viem";
import { MerkleTreeError } from "./errors.js";
import type { Hash } from "./hash.js";

/** The filler of the positions past the last leaf, up to the next power of two. */
export const EMPTY_LEAF: Hash = `0x${"0".repeat(64)}`;

/** Leaves a stack tree holds at most: a uint32 request count, as the settlement contract bounds it. */
export const MAX_STACK_LEAVES = 2 ** 32 - 1;

/** The number of positions of a tree of `count` leaves: the next power of two (1 for one leaf). */
export function stackTreeWidth(count: number): number {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_STACK_LEAVES)
    throw new MerkleTreeError(`a stack tree holds 1 to ${MAX_STACK_LEAVES} leaves, not ${count}`);
  let width = 1;
  while (width < count) width *= 2;
  return width;
}

/** The length every proof of a tree of `count` leaves has: log2 of its width. */
export function stackProofLength(count: number): number {
  return Math.log2(stackTreeWidth(count));
}

const parent = (left: Hash, right: Hash): Hash => keccak256(concatHex([left, right]));

/**
 * A stack's positional Merkle tree: the leaves in index order, padded with `EMPTY_LEAF` to a power of two, each
 * parent `H(left ‖ right)` with no sorting. A proof is the siblings from the bottom up, exactly
 * `stackProofLength(count)` long, and the index picks left or right at each level, so one root has exactly one
 * leaf per index (the contracts verify with `StackTree.verify`).
 */
export class StackTree {
  readonly #levels: Hash[][];
  readonly length: number;

  constructor(leaves: readonly Hash[]) {
    const width = stackTreeWidth(leaves.length);
    for (const [index, leaf] of leaves.entries()) {
      if (!isHex(leaf) || leaf.length !== 66)
        throw new MerkleTreeError(`leaf ${index} is not 32 bytes of hex`);
    }
    this.length = leaves.length;
    let level: Hash[] = [...leaves, ...Array<Hash>(width - leaves.length).fill(EMPTY_LEAF)];
    this.#levels = [level];
    while (level.length > 1) {
      const next: Hash[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(parent(level[i]!, level[i + 1]!));
      level = next;
      this.#levels.push(level);
    }
  }

  get root(): Hash {
    return this.#levels.at(-1)![0]!;
  }

  proof(index: number): Hash[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length)
      throw new MerkleTreeError(`no leaf at index ${index} (tree has ${this.length})`);
    const proof: Hash[] = [];
    let position = index;
    for (const level of this.#levels.slice(0, -1)) {
      proof.push(level[position ^ 1]!);
      position >>= 1;
    }
    return proof;
  }
}

/** The root a proof leads to from `leaf` at `index`; undefined when the proof's length does not fit `count`. */
export function stackRootOf(
  leaf: Hash,
  index: number,
  count: number,
  proof: readonly Hash[],
): Hash | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= count) return undefined;
  if (proof.length !== stackProofLength(count)) return undefined;
  let node = leaf;
  let position = index;
  for (const sibling of proof) {
    node = position % 2 === 0 ? parent(node, sibling) : parent(sibling, node);
    position = Math.floor(position / 2);
  }
  return node;
}

/** True when `proof` shows `leaf` at `index` of the tree of `count` leaves with `root`. */
export function verifyStackProof(
  root: Hash,
  leaf: Hash,
  index: number,
  count: number,
  proof: readonly Hash[],
): boolean {
  return stackRootOf(leaf, index, count, proof)?.toLowerCase() === root.toLowerCase();
}

/** The root of `leaves` in index order. */
export function stackRoot(leaves: readonly Hash[]): Hash {
  return new StackTree(leaves).root;
}
