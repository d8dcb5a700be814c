import { encodeAbiParameters, encodePacked, type Hex, keccak256, stringToHex } from "viem";
import { InvalidInputError } from "./errors.js";
import type { Hash } from "./hash.js";

/** Largest committee of nodes one smart-contract request may name (the contracts bound n the same way). */
export const MAX_CONSENSUS_NODES = 32;

const MAX_UINT64 = 2n ** 64n - 1n;

/**
 * The output every honest node commits, with 0 units, for a request it cannot serve (the prompt does not fit
 * the engine's context, or the engine refuses the body): the canonical JSON of the invalid-request result. Any
 * node of the echelon reproduces it, so refusing is an answer others can check, never a reason to be slashed.
 */
export const CONSENSUS_REFUSAL: Hex = stringToHex('{"object":"atoma.invalid_request"}');

function checkIndex(index: number, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONSENSUS_NODES)
    throw new InvalidInputError(`n must be an integer in [1, ${MAX_CONSENSUS_NODES}], got ${n}`);
  if (!Number.isInteger(index) || index < 1 || index > n)
    throw new InvalidInputError(`node index must be an integer in [1, ${n}], got ${index}`);
}

function checkUnits(units: bigint): void {
  if (units < 0n || units > MAX_UINT64) throw new InvalidInputError(`units must fit a uint64, got ${units}`);
}

/**
 * leaf_i = keccak256(abi.encodePacked(bytes O, uint64 units, uint256 i)) for the 1-based index i of a node among
 * the n sampled for a smart-contract request (whitepaper §2.6). Only a node that knows the output O can produce
 * its own leaf, so copying another node's commitment does not pass; the units are bound with it, so a node that
 * reports another count disagrees exactly as one that reports another output.
 */
export function consensusLeaf(
  output: Hex,
  units: bigint,
  index: number,
  n: number = MAX_CONSENSUS_NODES,
): Hash {
  checkIndex(index, n);
  checkUnits(units);
  return keccak256(encodePacked(["bytes", "uint64", "uint256"], [output, units, BigInt(index)]));
}

/** root = keccak256(leaf_1 ‖ … ‖ leaf_n): every honest node commits the same root for the same output and units. */
export function consensusRoot(output: Hex, units: bigint, n: number): Hash {
  checkIndex(1, n);
  const leaves = Array.from({ length: n }, (_, k) => consensusLeaf(output, units, k + 1, n));
  return keccak256(encodePacked(["bytes32[]"], [leaves]));
}

export interface ConsensusSealInput {
  requestId: bigint;
  /** The sealing node's 1-based seat index. */
  index: number;
  root: Hash;
  leaf: Hash;
  /** 32 random bytes the node keeps until it reveals: without them the seal says nothing about the output. */
  salt: Hex;
}

/**
 * seal = keccak256(abi.encode(uint256 requestId, uint256 index, bytes32 root, bytes32 leaf, bytes32 salt)): what a
 * seat commits before any seat reveals, so nobody can copy a revealed root. The request and seat are bound in, so a
 * seal copied from another seat can only be revealed as that seat's leaf, which fails at delivery.
 */
export function consensusSeal(input: ConsensusSealInput): Hash {
  if (input.index < 1 || !Number.isInteger(input.index))
    throw new InvalidInputError(`seat index must be a positive integer, got ${input.index}`);
  return keccak256(
    encodeAbiParameters(
      [
        { type: "uint256" },
        { type: "uint256" },
        { type: "bytes32" },
        { type: "bytes32" },
        { type: "bytes32" },
      ],
      [input.requestId, BigInt(input.index), input.root, input.leaf, input.salt],
    ),
  );
}
