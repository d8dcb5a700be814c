import type { PostedRequest, RevealSettlementParams } from "@atoma/chain";
import { canonicalJson, type Hash, type StackLeaf, StackTree, type TranscriptEntry } from "@atoma/core";
import { stringToHex } from "viem";
import type { StoredLeaf } from "../accounting/types.js";
import { SettlementStateError } from "./errors.js";

const leafFields = (leaf: StoredLeaf): StackLeaf => ({
  leafIndex: leaf.leafIndex,
  nonce: leaf.nonce,
  reqHash: leaf.reqHash,
  respHash: leaf.respHash,
  units: leaf.units,
  cumulativeUnits: leaf.cumulativeUnits,
});

/**
 * The reveal of the sampled leaves, in the order of `indices`, and of the last leaf, each with its stack-tree
 * proof against the root the node submitted (checked here, so a corrupted database is caught before the chain
 * is asked).
 */
export function revealOf(
  stackId: bigint,
  leaves: readonly StoredLeaf[],
  indices: readonly number[],
  submittedRoot: string | null,
): RevealSettlementParams {
  const tree = new StackTree(leaves.map((leaf) => leaf.leafHash));
  if (submittedRoot !== null && tree.root !== submittedRoot)
    throw new SettlementStateError(stackId, "the stored leaves no longer hash to the submitted root");
  const at = indices.map((k) => {
    const leaf = leaves[k];
    if (!leaf) throw new SettlementStateError(stackId, `sampled index ${k} has no stored leaf`);
    return leaf;
  });
  const last = leaves.length - 1;
  return {
    stackId,
    sampled: at.map(leafFields),
    proofs: indices.map((k): Hash[] => tree.proof(k)),
    last: leafFields(leaves[last]!),
    lastProof: tree.proof(last),
  };
}

/** The sampled owner-signed requests as calldata: each body's canonical bytes and the fields the owner signed. */
export function postedRequestsOf(
  stackId: bigint,
  leaves: readonly StoredLeaf[],
  indices: readonly number[],
): PostedRequest[] {
  return indices.map((k) => {
    const entry = leaves[k]?.request as TranscriptEntry | undefined;
    if (
      !entry?.body ||
      entry.nonce === undefined ||
      entry.deadline === undefined ||
      entry.max_units === undefined ||
      !entry.signature
    )
      throw new SettlementStateError(stackId, `sampled index ${k} has no signed request stored`);
    return {
      body: stringToHex(canonicalJson(entry.body)),
      nonce: BigInt(entry.nonce),
      deadline: BigInt(entry.deadline),
      maxUnits: BigInt(entry.max_units),
      signature: entry.signature,
    };
  });
}
