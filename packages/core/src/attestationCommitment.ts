import { encodeAbiParameters, keccak256 } from "viem";
import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";

/** What an attester recomputed for the sampled indices, in their order: each response hash and its units. */
export interface RecomputedSample {
  respHashes: readonly Hash[];
  units: readonly bigint[];
}

function checkSample(sample: RecomputedSample): void {
  if (sample.respHashes.length !== sample.units.length)
    throw new InvalidInputError(
      `${sample.respHashes.length} response hashes but ${sample.units.length} unit counts`,
    );
}

/**
 * The result of an attestation: H(abi.encode(bytes32[] respHashes, uint64[] units)) of the sampled indices in
 * order. It is what the server's reveal is reduced to on-chain and what an attestation dispute decides on, so a
 * count that differs is disputed like an answer that differs.
 */
export function attestationResult(sample: RecomputedSample): Hash {
  checkSample(sample);
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32[]" }, { type: "uint64[]" }],
      [[...sample.respHashes], [...sample.units]],
    ),
  );
}

/**
 * An attester's commitment: H(abi.encode(uint256 nodeId, bytes32 attestationResult(sample))). The node id makes it
 * the attester's own (it cannot be copied); the units make the count billed part of what is checked.
 */
export function attestationCommitment(nodeId: bigint, sample: RecomputedSample): Hash {
  return keccak256(
    encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [nodeId, attestationResult(sample)]),
  );
}
