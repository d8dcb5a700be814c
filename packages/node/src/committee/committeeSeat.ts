import { evaluateSelection, type VrfProofArgs } from "@atoma/chain";
import { disputeSelectionSeed, disputeSelectionThreshold } from "@atoma/core";
import type { Hex } from "viem";

/** What a dispute committee's VRF evaluation gives its node: nothing to send, or the proof of its seat. */
export type CommitteeSeat = { selected: false; seed: Hex } | (VrfProofArgs & { selected: true; seed: Hex });

/**
 * Evaluates, in private, whether the node holding `secretKey` sits on dispute `disputeId`'s committee in draw round
 * `round` (0 unless given): the VRF on the round window's seed (the window and the hash of the block after the one
 * that armed the round's draw, `seedOf`)
 * under the threshold N/n (`DisputeSelection.threshold`; `candidateCount` is n, the candidates with a key older than
 * the freeze, not every frozen candidate: the chain's own threshold is what a running node reads). Nothing is sent; a selected node then commits its vote
 * together with the proof (`selfSelectCommittee`), an unselected one stays silent.
 */
export function evaluateCommitteeSeat(
  secretKey: Hex,
  dispute: {
    disputeId: bigint;
    round?: number | undefined;
    armedBlockHash: Hex;
    committeeSize: number | bigint;
    candidateCount: number | bigint;
  },
): CommitteeSeat {
  const seed = disputeSelectionSeed(dispute.disputeId, dispute.armedBlockHash, dispute.round ?? 0);
  const threshold = disputeSelectionThreshold(dispute);
  const result = evaluateSelection(secretKey, { seed, ...threshold });
  if (!result.selected) return { selected: false, seed };
  return { selected: true, seed, proof: result.proof, beta: result.beta, hints: result.hints };
}
