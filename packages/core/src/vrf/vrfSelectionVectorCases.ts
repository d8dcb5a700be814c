import { type Hex, keccak256, toHex } from "viem";
import { vrfProofToHash, vrfProve, vrfPublicKey, vrfVerifierHints } from "./ecvrf.js";
import {
  replacementSelectionSeed,
  settlementSampleSeed,
  settlementSelectionSeed,
  settlementSelectionThreshold,
} from "./selfSelection.js";
import { VECTOR_VRF_REGISTRY, vrfPossessionInput } from "./sortition.js";

const word = (value: bigint): Hex => `0x${value.toString(16).padStart(64, "0")}`;

/** Node `nodeId`'s VRF secret key in the shared vectors (and the forge fixture's node of that id). */
export function vectorVrfKey(nodeId: bigint): Hex {
  return keccak256(toHex(`node-${nodeId - 1n}`));
}

/** A node's proof on `alpha` with the verifier hints the contracts take, as the vectors write them. */
export function selectionProofCase(secretKey: Hex, alpha: Hex) {
  const publicKey = vrfPublicKey(secretKey);
  const proof = vrfProve(secretKey, alpha);
  const hints = vrfVerifierHints(publicKey, alpha, proof);
  return {
    proof,
    beta: vrfProofToHash(proof),
    u: hints.u.map(word),
    sH: hints.sH.map(word),
    cGamma: hints.cGamma.map(word),
  };
}

/**
 * Private self-selection vectors (packages/core/vectors/vrfSelection.json), checked by selfSelection.test.ts and
 * contracts/test/VrfSelection.t.sol: keys of nodes 1..8 with their possession proofs (node 8 registers late there), and every node's proof on
 * the selection seed of stacks 1..STACKS armed on a block whose hash is `blockHash`.
 */
export function buildVrfSelectionVectors(nodes = 8, stacks = 12) {
  const blockHash = keccak256(toHex("vrf selection block"));
  const ids = Array.from({ length: nodes }, (_, i) => BigInt(i + 1));
  return {
    description:
      "Private self-selection vectors (settlement seeds, thresholds, proofs per stack and node). Regenerate with `npm run vectors:vrf -w @atoma/core`.",
    blockHash,
    nodes: ids.map((nodeId) => {
      const secretKey = vectorVrfKey(nodeId);
      return {
        nodeId: Number(nodeId),
        publicKey: vrfPublicKey(secretKey),
        possession: selectionProofCase(secretKey, vrfPossessionInput(nodeId, VECTOR_VRF_REGISTRY)),
      };
    }),
    stacks: Array.from({ length: stacks }, (_, i) => {
      const stackId = BigInt(i + 1);
      const seed = settlementSelectionSeed(stackId, blockHash);
      return {
        stackId: Number(stackId),
        seed,
        sampleSeed: word(settlementSampleSeed(seed)),
        proofs: ids.map((nodeId) => selectionProofCase(vectorVrfKey(nodeId), seed)),
      };
    }),
    thresholds: [
      { replicationPpm: 1_000_000, attesters: 2, candidateCount: 5, certain: false },
      { replicationPpm: 100_000, attesters: 3, candidateCount: 10, certain: false },
      { replicationPpm: 100_000, attesters: 3, candidateCount: 10, certain: true },
      { replicationPpm: 1_000_000, attesters: 8, candidateCount: 3, certain: false },
    ].map((t) => {
      const { numerator, denominator } = settlementSelectionThreshold(t);
      return { ...t, numerator: word(numerator), denominator: word(denominator) };
    }),
  };
}

/**
 * Replacement-round vectors (packages/core/vectors/vrfReplacement.json), checked by selfSelection.test.ts and
 * contracts/test/PrivateReplacement.t.sol: every node's proof on the seed of replacement rounds 1..ROUNDS of stacks
 * 1..STACKS, each armed on a block whose successor has the selection vectors' `blockHash` (the keys are theirs).
 */
export function buildVrfReplacementVectors(nodes = 8, stacks = 8, rounds = 3) {
  const blockHash = keccak256(toHex("vrf selection block"));
  const ids = Array.from({ length: nodes }, (_, i) => BigInt(i + 1));
  return {
    description:
      "Private replacement-round vectors (seeds and proofs per stack, round and node; keys as vrfSelection.json). Regenerate with `npm run vectors:vrf -w @atoma/core`.",
    blockHash,
    stacks: Array.from({ length: stacks }, (_, i) => {
      const stackId = BigInt(i + 1);
      return {
        stackId: Number(stackId),
        rounds: Array.from({ length: rounds }, (_, r) => {
          const seed = replacementSelectionSeed(stackId, r + 1, blockHash);
          return {
            round: r + 1,
            seed,
            proofs: ids.map((nodeId) => selectionProofCase(vectorVrfKey(nodeId), seed)),
          };
        }),
      };
    }),
  };
}
