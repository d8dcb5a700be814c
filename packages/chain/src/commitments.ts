import { disputeVoteCommitment } from "@atoma/core";

/**
 * An attester's commitment and the result it commits to live in @atoma/core (shared with the contracts' vectors);
 * they are re-exported here for the chain's callers.
 */
export { attestationCommitment, attestationResult } from "@atoma/core";

/** A committee member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ claim ‖ work ‖ salt). */
export const voteCommitment = disputeVoteCommitment;
