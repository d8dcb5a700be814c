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
 * An attester's commitment: H(abi.encode(uint256 nodeId, bytes32 result, bytes32 salt)), `result` the
 * `attestationResult` of what it recomputed. The node id makes it the attester's own (a copy cannot be opened by
 * another node); the units are part of the result; the salt, secret until the attester opens its commitment after
 * the server's reveal, keeps anyone from testing the commitment against the server's claimed result (which anyone
 * holding the transcript can compute), so a lazy peer cannot learn whether another attester agreed.
 */
export function attestationCommitment(nodeId: bigint, result: Hash, salt: Hash): Hash {
  if (!/^0x[0-9a-fA-F]{64}$/.test(salt)) throw new InvalidInputError("an attestation salt is 32 bytes");
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "bytes32" }, { type: "bytes32" }],
      [nodeId, result, salt],
    ),
  );
}
