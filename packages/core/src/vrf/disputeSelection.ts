import { encodeAbiParameters, type Hex, hexToBigInt, keccak256, numberToHex } from "viem";
import type { SelectionThreshold } from "./selfSelection.js";
import { sortitionSeed } from "./sortition.js";

/**
 * The key of draw round `round`'s selection window of dispute `disputeId`: the dispute id for round 0, else
 * keccak256(abi.encode(disputeId, round)). Mirrors `DisputeSelection.windowOf`.
 */
export function disputeSelectionWindow(disputeId: bigint, round = 0): bigint {
  if (round === 0) return disputeId;
  return hexToBigInt(
    keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "uint8" }], [disputeId, round])),
  );
}

/**
 * The VRF input of dispute `disputeId`'s draw round `round` whose seed block has hash `armedBlockHash`: the block
 * after the one that armed the round's draw (and froze its candidates), so not even that block's builder knew it.
 * Each round's window has its own seed, so a proof made for one round never sits in another. Mirrors
 * `DisputeSelection.seedOf(windowOf(disputeId, round), armedBlockHash)`.
 */
export function disputeSelectionSeed(disputeId: bigint, armedBlockHash: Hex, round = 0): Hex {
  return sortitionSeed(
    numberToHex(disputeSelectionWindow(disputeId, round), { size: 32 }),
    armedBlockHash,
    "dispute",
  );
}

/**
 * The threshold of a dispute committee's private self-selection: N/n for an expected committee of `committeeSize`
 * among `candidateCount` usable candidates (frozen, the parties excluded, and holding a VRF key older than the
 * freeze: `DisputeSelection.usableCount`, not every frozen candidate), capped at 1. Mirrors
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
