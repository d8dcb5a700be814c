import { open } from "node:fs/promises";
import { type Hash, InvalidInputError, LeafTree } from "@atoma/core";
import { keccak256 } from "viem";
import { WeightsRootMismatchError } from "../errors.js";

/** Weights are committed to in chunks of this many bytes (the last chunk may be shorter). */
export const WEIGHTS_CHUNK_BYTES = 1024 * 1024;

/** keccak256 of each 1 MiB chunk of a file, in order: the leaves of its weights tree. */
export async function weightsLeaves(path: string): Promise<Hash[]> {
  const file = await open(path, "r");
  try {
    const leaves: Hash[] = [];
    const buffer = new Uint8Array(WEIGHTS_CHUNK_BYTES);
    for (;;) {
      let filled = 0;
      while (filled < WEIGHTS_CHUNK_BYTES) {
        const { bytesRead } = await file.read(buffer, filled, WEIGHTS_CHUNK_BYTES - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled === 0) break;
      leaves.push(keccak256(buffer.subarray(0, filled)));
      if (filled < WEIGHTS_CHUNK_BYTES) break;
    }
    if (leaves.length === 0)
      throw new InvalidInputError(`${path} is empty: an empty file has no weights root`);
    return leaves;
  } finally {
    await file.close();
  }
}

/**
 * The Merkle root a model is registered with on-chain: an OpenZeppelin-compatible (sorted-pair keccak) tree
 * over the keccak256 of each 1 MiB chunk of the file, so a contract can check any chunk with a proof.
 */
export async function weightsRoot(path: string): Promise<Hash> {
  return new LeafTree(await weightsLeaves(path)).root;
}

/** Throws WeightsRootMismatchError unless the file's root is `expected`. */
export async function assertWeightsRoot(path: string, expected: Hash): Promise<void> {
  const actual = await weightsRoot(path);
  if (actual.toLowerCase() !== expected.toLowerCase())
    throw new WeightsRootMismatchError(path, expected, actual);
}
