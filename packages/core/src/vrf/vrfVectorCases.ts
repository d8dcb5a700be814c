import { type Hex, keccak256, toHex } from "viem";
import { type AffinePoint, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerifierHints } from "./ecvrf.js";
import { isSelected, sortitionSeed, VECTOR_VRF_REGISTRY, vrfPossessionInput } from "./sortition.js";

const word = (value: bigint): Hex => `0x${value.toString(16).padStart(64, "0")}`;
const point = ([x, y]: AffinePoint) => [word(x), word(y)];

/** One proof for the shared vectors, with the hints the EVM verifier takes. */
function vrfCase(secretKey: Hex, alpha: Hex) {
  const publicKey = vrfPublicKey(secretKey);
  const proof = vrfProve(secretKey, alpha);
  const hints = vrfVerifierHints(publicKey, alpha, proof);
  return {
    secretKey,
    publicKey,
    publicKeyPoint: point(hints.publicKey),
    alpha,
    proof,
    beta: vrfProofToHash(proof),
    u: point(hints.u),
    sH: point(hints.sH),
    cGamma: point(hints.cGamma),
  };
}

/**
 * A proof checked against a key and input it was not made for, with the true products as hints: only the
 * challenge can catch it, so the verifier must compute and compare it.
 */
function forgery(name: string, publicKey: Hex, alpha: Hex, proof: Hex) {
  const hints = vrfVerifierHints(publicKey, alpha, proof);
  return {
    name,
    publicKey,
    publicKeyPoint: point(hints.publicKey),
    alpha,
    proof,
    u: point(hints.u),
    sH: point(hints.sH),
    cGamma: point(hints.cGamma),
  };
}

/** (numerator, denominator) pairs of the selection test: 1/2, N/n = 3/10, p·N/n at p = 0.1, N = 3, n = 10, 1/1000. */
const fractions: [bigint, bigint][] = [
  [1n, 1n],
  [1n, 2n],
  [3n, 10n],
  [300_000n, 10_000_000n],
  [1n, 1000n],
];

/** The VRF vectors of packages/core/vectors/vrf.json, checked by vrfVectors.test.ts and contracts/test/Vrf.t.sol. */
export function buildVrfVectors() {
  const settlement = keccak256(toHex("vector settlement"));
  const later = keccak256(toHex("vector block"));
  const alice: Hex = `0x${"11".repeat(32)}`;
  const mallory: Hex = `0x${"22".repeat(32)}`;
  const seed = sortitionSeed(settlement, later, "attest");
  const aliceProof = vrfProve(alice, seed);
  const proofs = [
    vrfCase(`0x${"11".repeat(32)}`, "0x"),
    vrfCase(`0x${"11".repeat(32)}`, "0x73616d706c65"),
    vrfCase(keccak256(toHex("node-0")), seed),
    vrfCase(keccak256(toHex("node-1")), sortitionSeed(settlement, later, "dispute")),
    vrfCase(word(1n), keccak256(toHex("a longer input that spans more than one hash block of SHA-256"))),
  ];
  return {
    description:
      "ECVRF secp256k1 SHA-256 TAI (suite 0xFE) vectors for core (TypeScript) and contracts (Solidity). Regenerate with `npm run vectors:vrf -w @atoma/core`.",
    proofs,
    // Keys of node-0 and node-1 proving possession for node ids 1 and 2 (the first two nodes of the forge fixture).
    possession: [1n, 2n].map((nodeId) => ({
      nodeId: Number(nodeId),
      ...vrfCase(keccak256(toHex(`node-${nodeId - 1n}`)), vrfPossessionInput(nodeId, VECTOR_VRF_REGISTRY)),
    })),
    seeds: (["attest", "dispute"] as const).map((purpose) => ({
      purpose: `atoma.vrf.${purpose}`,
      settlementId: settlement,
      laterBlockHash: later,
      seed: sortitionSeed(settlement, later, purpose),
    })),
    selections: [
      ...proofs.map(({ beta }) => beta),
      word(2n ** 255n - 1n),
      word(2n ** 255n),
      word(0n),
      word(2n ** 256n - 1n),
    ].flatMap((beta) =>
      fractions.map(([numerator, denominator]) => ({
        beta,
        numerator: word(numerator),
        denominator: word(denominator),
        selected: isSelected(beta, { numerator, denominator }) ? 1 : 0,
      })),
    ),
    forgeries: [
      forgery("another key's proof", vrfPublicKey(alice), seed, vrfProve(mallory, seed)),
      forgery("a proof for another seed", vrfPublicKey(alice), seed, vrfProve(alice, keccak256(seed))),
      forgery(
        "Gamma swapped for another key's",
        vrfPublicKey(alice),
        seed,
        `${vrfProve(mallory, seed).slice(0, 68)}${aliceProof.slice(68)}` as Hex,
      ),
    ],
  };
}
