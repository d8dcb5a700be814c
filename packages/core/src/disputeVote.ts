import {
  concatHex,
  encodePacked,
  type Hex,
  hexToString,
  keccak256,
  numberToHex,
  stringToBytes,
  stringToHex,
} from "viem";
import { attestationResult, type RecomputedSample } from "./attestationCommitment.js";
import { canonicalJson } from "./canonicalJson.js";
import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";
import { reproducibleResult } from "./responseResult.js";
import { computeUnits } from "./units.js";

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
 * The units a settlement-dispute output carries (as the contracts' ResultUnits reads them): the usage of the
 * result, or 0 for the invalid-request result.
 */
export function outputUnits(output: Hex): bigint {
  const result = JSON.parse(hexToString(output)) as {
    object?: string;
    usage?: { prompt_tokens: number; completion_tokens?: number };
  };
  if (result.usage === undefined) {
    if (result.object === "atoma.invalid_request") return 0n;
    throw new InvalidInputError("a result without usage carries no units");
  }
  return computeUnits(result.usage);
}

/**
 * The bytes a consensus-dispute member shows: the output followed by its uint64 unit count, so that each leaf of
 * the claimed root is H(shown ‖ uint256 i) and a member that computed another count shows other bytes.
 */
export function consensusShownOutput(output: Hex, units: bigint): Hex {
  return encodePacked(["bytes", "uint64"], [output, units]);
}

/**
 * A settlement-dispute claim: the attestation result H(abi.encode(respHashes, units)) of the sampled requests in
 * order, so a member claims the units its outputs carry as well as their hashes.
 */
export function sampleClaim(sample: RecomputedSample): Hash {
  return attestationResult(sample);
}

/** The claim of a member that shows `outputs`: their hashes and the units each carries. */
export function claimOfOutputs(outputs: readonly Hex[]): {
  claim: Hash;
  respHashes: Hash[];
  units: bigint[];
} {
  const respHashes = outputs.map((output) => keccak256(output));
  const units = outputs.map(outputUnits);
  return { claim: sampleClaim({ respHashes, units }), respHashes, units };
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
