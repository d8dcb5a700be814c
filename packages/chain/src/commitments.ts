import type { Hash } from "@atoma/core";
import { concatHex, keccak256, numberToHex } from "viem";

/**
 * An attester's commitment and the result it commits to live in @atoma/core (shared with the contracts' vectors);
 * they are re-exported here for the chain's callers.
 */
export { attestationCommitment, attestationResult } from "@atoma/core";

const word = (value: bigint) => numberToHex(value, { size: 32 });

/** A committee member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ result ‖ salt). */
export function voteCommitment(disputeId: bigint, nodeId: bigint, result: Hash, salt: Hash): Hash {
  return keccak256(concatHex([word(disputeId), word(nodeId), result, salt]));
}
