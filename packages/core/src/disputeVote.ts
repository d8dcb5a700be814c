import { concatHex, encodePacked, type Hex, keccak256, numberToHex, stringToBytes, stringToHex } from "viem";
import { canonicalJson } from "./canonicalJson.js";
import type { Hash } from "./hash.js";
import { reproducibleResult } from "./responseResult.js";

/**
 * The vote of a dispute committee member, as the DisputeManager checks it. A member commits to what it computed,
 * never to a side: its claim (what the outputs hash to) and its work (the outputs bound to its node id), sealed
 * with a salt. After the reveal it shows the outputs; a member that voted without computing cannot.
 */

const word = (value: bigint) => numberToHex(value, { size: 32 });

/** The claim of a member that could not obtain or replay the disputed data: an abstention, never punished. */
export const UNAVAILABLE_CLAIM: Hash = keccak256(stringToBytes("atoma.unavailable"));

/** The bytes a settlement-dispute member shows for one request: those whose hash is the response hash. */
export function responseOutput(response: unknown): Hex {
  return stringToHex(canonicalJson(reproducibleResult(response)));
}

/**
 * The bytes a consensus-dispute member shows: the output followed by its uint64 unit count, so that each leaf of
 * the claimed root is H(shown ‖ uint256 i) and a member that computed another count shows other bytes.
 */
export function consensusShownOutput(output: Hex, units: bigint): Hex {
  return encodePacked(["bytes", "uint64"], [output, units]);
}

/** A settlement-dispute claim: H(respHash_1 ‖ … ‖ respHash_s), over the sampled requests in order. */
export function sampleClaim(respHashes: readonly Hash[]): Hash {
  return keccak256(concatHex([...respHashes]));
}

/** One work part: H(uint256 nodeId ‖ output). Only a node holding the output can make its own. */
export function workPart(nodeId: bigint, output: Hex): Hash {
  return keccak256(concatHex([word(nodeId), output]));
}

/** A member's work over its outputs: H(w_1 ‖ … ‖ w_s) and the parts it shows with them. */
export function voteWork(nodeId: bigint, outputs: readonly Hex[]): { work: Hash; parts: Hash[] } {
  const parts = outputs.map((output) => workPart(nodeId, output));
  return { work: keccak256(concatHex(parts)), parts };
}

/** A member's sealed vote: H(uint256 disputeId ‖ uint256 nodeId ‖ claim ‖ work ‖ salt). */
export function disputeVoteCommitment(
  disputeId: bigint,
  nodeId: bigint,
  claim: Hash,
  work: Hash,
  salt: Hash,
): Hash {
  return keccak256(concatHex([word(disputeId), word(nodeId), claim, work, salt]));
}
