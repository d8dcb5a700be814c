import { disputeVoteCommitment, type Hash, sampleClaim } from "@atoma/core";
import { concatHex, keccak256, numberToHex } from "viem";

const word = (value: bigint) => numberToHex(value, { size: 32 });

/**
 * An attester's commitment to the sampled responses it recomputed: H(uint256 nodeId ‖ respHash_k for k in K),
 * in the order of `sampledIndices`. The node id makes each attester's commitment its own, so one cannot be copied.
 */
export function attestationCommitment(nodeId: bigint, respHashes: readonly Hash[]): Hash {
  return keccak256(concatHex([word(nodeId), ...respHashes]));
}

/** The server's revealed result and a committee member's claim on a settlement: H(respHash_k for k in K). */
export function attestationResult(respHashes: readonly Hash[]): Hash {
  return sampleClaim(respHashes);
}

/** A committee member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ claim ‖ work ‖ salt). */
export const voteCommitment = disputeVoteCommitment;
