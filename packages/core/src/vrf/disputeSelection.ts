import { type Hex, numberToHex } from "viem";
import type { SelectionThreshold } from "./selfSelection.js";
import { sortitionSeed } from "./sortition.js";

/**
 * The VRF input of dispute `disputeId` whose seed block has hash `armedBlockHash`: the block after the one that armed
 * its committee draw (and froze its candidates), so not even that block's builder knew it. Mirrors
 * `DisputeSelection.seedOf`.
 */
export function disputeSelectionSeed(disputeId: bigint, armedBlockHash: Hex): Hex {
  return sortitionSeed(numberToHex(disputeId, { size: 32 }), armedBlockHash, "dispute");
}

/**
 * The threshold of a dispute committee's private self-selection: N/n for an expected committee of `committeeSize`
 * among `candidateCount` frozen candidates (the parties already excluded), capped at 1. Mirrors
 * `DisputeSelection.threshold`.
 */
export function disputeSelectionThreshold(params: {
  committeeSize: number | bigint;
  candidateCount: number | bigint;
}): SelectionThreshold {
  const denominator = BigInt(params.candidateCount);
  const size = BigInt(params.committeeSize);
  return { numerator: size > denominator ? denominator : size, denominator };
}
