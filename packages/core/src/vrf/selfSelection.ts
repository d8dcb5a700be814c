import { encodeAbiParameters, type Hex, keccak256, numberToHex } from "viem";
import { sortitionSeed } from "./sortition.js";

const PPM = 1_000_000n;

/** A settlement's selection threshold as `SettlementDraw.selectionThreshold` computes it (numerator/denominator). */
export interface SelectionThreshold {
  numerator: bigint;
  denominator: bigint;
}

/**
 * The threshold of a settlement's private self-selection among `candidateCount` frozen candidates whose VRF keys
 * predate the freeze (the only ones that can sit; keyless ones would dilute q): p·N/n for an
 * ordinary settlement (p in parts per million, as tasks store it), N/n for one that must be checked (`certain`),
 * capped at 1 (every candidate selected). Mirrors `SettlementDraw.selectionThreshold`.
 */
export function settlementSelectionThreshold(params: {
  replicationPpm: number | bigint;
  attesters: number | bigint;
  candidateCount: number | bigint;
  certain: boolean;
}): SelectionThreshold {
  const attesters = BigInt(params.attesters);
  const n = BigInt(params.candidateCount);
  let numerator = params.certain ? attesters : BigInt(params.replicationPpm) * attesters;
  const denominator = params.certain ? n : PPM * n;
  if (numerator > denominator) numerator = denominator;
  return { numerator, denominator };
}

/** The VRF input of settlement `stackId` whose draw was armed on a block with hash `armedBlockHash`. */
export function settlementSelectionSeed(stackId: bigint, armedBlockHash: Hex): Hex {
  return sortitionSeed(numberToHex(stackId, { size: 32 }), armedBlockHash, "attest");
}

/**
 * The VRF input of replacement round `round` (≥ 1) of settlement `stackId`, armed on a block (the timeout's) whose
 * successor has hash `laterBlockHash` (`SettlementDraw._openReplacement`): a fresh seed per round.
 */
export function replacementSelectionSeed(stackId: bigint, round: number | bigint, laterBlockHash: Hex): Hex {
  const id = keccak256(
    encodeAbiParameters([{ type: "uint256" }, { type: "uint8" }], [stackId, Number(round)]),
  );
  return sortitionSeed(id, laterBlockHash, "replace");
}

/** The seed the settlement manager keeps for the sampled indices of a privately drawn settlement: its low 128 bits. */
export function settlementSampleSeed(selectionSeed: Hex): bigint {
  return BigInt(selectionSeed) & ((1n << 128n) - 1n);
}
