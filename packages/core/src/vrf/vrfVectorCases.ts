import { type Hex, keccak256, toHex } from "viem";
import { type AffinePoint, vrfProofToHash, vrfProve, vrfPublicKey, vrfVerifierHints } from "./ecvrf.js";
import { sortitionSeed } from "./sortition.js";

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

/** The VRF vectors of packages/core/vectors/vrf.json, checked by vrfVectors.test.ts and contracts/test/Vrf.t.sol. */
export function buildVrfVectors() {
  const settlement = keccak256(toHex("vector settlement"));
  const later = keccak256(toHex("vector block"));
  const alice: Hex = `0x${"11".repeat(32)}`;
  const mallory: Hex = `0x${"22".repeat(32)}`;
  const seed = sortitionSeed(settlement, later, "attest");
  const aliceProof = vrfProve(alice, seed);
  return {
    description:
      "ECVRF secp256k1 SHA-256 TAI (suite 0xFE) vectors for core (TypeScript) and contracts (Solidity). Regenerate with `npm run vectors:vrf -w @atoma/core`.",
    proofs: [
      vrfCase(`0x${"11".repeat(32)}`, "0x"),
      vrfCase(`0x${"11".repeat(32)}`, "0x73616d706c65"),
      vrfCase(keccak256(toHex("node-0")), sortitionSeed(settlement, later, "attest")),
      vrfCase(keccak256(toHex("node-1")), sortitionSeed(settlement, later, "dispute")),
      vrfCase(word(1n), keccak256(toHex("a longer input that spans more than one hash block of SHA-256"))),
    ],
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
