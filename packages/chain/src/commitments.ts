import { disputeVoteCommitment, type Hash } from "@atoma/core";
import { toHex } from "viem";

/**
 * An attester's commitment and the result it commits to live in @atoma/core (shared with the contracts' vectors);
 * they are re-exported here for the chain's callers.
 */
export { attestationCommitment, attestationResult } from "@atoma/core";

/** A committee member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ claim ‖ work ‖ salt). */
export const voteCommitment = disputeVoteCommitment;

/**
 * 32 unpredictable bytes for a commitment's salt (an attestation's or a vote's). Whoever commits with it must keep
 * it until it opens: a node derives its own from its key instead (`attestationSalt` in @atoma/node), which
 * survives a restart without storing a secret.
 */
export function randomSalt(): Hash {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}
