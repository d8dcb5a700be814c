import { p256 } from "@noble/curves/p256";
import { secp256k1 } from "@noble/curves/secp256k1";
import { describe, expect, it } from "vitest";
import {
  decodePoint,
  ecvrfSuite,
  vrfEvaluate,
  vrfProofToHash,
  vrfProve,
  vrfPublicKey,
  vrfVerifierHints,
  vrfVerify,
} from "./ecvrf.js";
import { VrfEncodingError, VrfProofError, VrfScalarError } from "./errors.js";

const alice = `0x${"11".repeat(32)}` as const;
const mallory = `0x${"22".repeat(32)}` as const;
const seed = `0x${"ab".repeat(32)}` as const;
const otherSeed = `0x${"cd".repeat(32)}` as const;
const N = secp256k1.CURVE.n;
const P = secp256k1.CURVE.Fp.ORDER;

const flip = (hex: `0x${string}`, byte: number) => {
  const bytes = Buffer.from(hex.slice(2), "hex");
  bytes[byte] = (bytes[byte] ?? 0) ^ 1;
  return `0x${bytes.toString("hex")}` as const;
};
const withScalar = (proof: `0x${string}`, s: bigint) =>
  `${proof.slice(0, 2 + 2 * 49)}${s.toString(16).padStart(64, "0")}` as `0x${string}`;

describe("ECVRF secp256k1 attacks", () => {
  const proof = vrfProve(alice, seed);
  const alicePk = vrfPublicKey(alice);

  it("accepts the honest proof, and its output is the unproved evaluation", () => {
    expect(vrfVerify(alicePk, seed, proof)).toBe(vrfProofToHash(proof));
    expect(vrfEvaluate(alice, seed)).toBe(vrfProofToHash(proof));
  });

  it("refuses a proof replayed under another key or for another seed", () => {
    expect(() => vrfVerify(vrfPublicKey(mallory), seed, proof)).toThrow(VrfProofError);
    expect(() => vrfVerify(alicePk, otherSeed, proof)).toThrow(VrfProofError);
  });

  it("refuses a proof whose Gamma was swapped for a better-looking output", () => {
    // Mallory wants a low output for Alice: she takes Gamma from her own proof and keeps Alice's c and s.
    const forged = `${vrfProve(mallory, seed).slice(0, 68)}${proof.slice(68)}` as `0x${string}`;
    expect(() => vrfVerify(alicePk, seed, forged)).toThrow(VrfProofError);
  });

  it("refuses every single-bit change of c and s", () => {
    for (let byte = 33; byte < 81; byte += 7)
      expect(() => vrfVerify(alicePk, seed, flip(proof, byte))).toThrow();
  });

  it("refuses s ≥ n, s = 0 and c = 0 (non-canonical scalars)", () => {
    const s = BigInt(`0x${proof.slice(2 + 98)}`);
    if (s + N < 2n ** 256n)
      expect(() => vrfVerify(alicePk, seed, withScalar(proof, s + N))).toThrow(VrfScalarError);
    expect(() => vrfVerify(alicePk, seed, withScalar(proof, N))).toThrow(VrfScalarError);
    expect(() => vrfVerify(alicePk, seed, withScalar(proof, 0n))).toThrow(VrfScalarError);
    const zeroC = `${proof.slice(0, 68)}${"00".repeat(16)}${proof.slice(100)}` as `0x${string}`;
    expect(() => vrfVerify(alicePk, seed, zeroC)).toThrow(VrfScalarError);
  });

  it("refuses points off the curve, x ≥ p, bad prefixes and wrong lengths", () => {
    // x = 5: 5³ + 7 = 132 is not a square mod p, so no point has it.
    const offCurve = `0x02${5n.toString(16).padStart(64, "0")}` as const;
    expect(() => decodePoint(offCurve)).toThrow(VrfEncodingError);
    expect(() => vrfVerify(offCurve, seed, proof)).toThrow(VrfEncodingError);
    const xTooBig = `0x02${P.toString(16)}` as const;
    expect(() => decodePoint(xTooBig)).toThrow(VrfEncodingError);
    expect(() => vrfVerify(`0x04${alicePk.slice(4)}`, seed, proof)).toThrow(VrfEncodingError);
    const uncompressed = `0x${Buffer.from(secp256k1.ProjectivePoint.fromHex(alicePk.slice(2)).toRawBytes(false)).toString("hex")}`;
    expect(() => vrfVerify(uncompressed as `0x${string}`, seed, proof)).toThrow(VrfEncodingError);
    expect(() => vrfVerify(alicePk, seed, `${offCurve}${proof.slice(68)}` as `0x${string}`)).toThrow(
      VrfEncodingError,
    );
    expect(() => vrfVerify(alicePk, seed, `${proof}00` as `0x${string}`)).toThrow(VrfEncodingError);
    expect(() => vrfVerify(alicePk, seed, proof.slice(0, -2) as `0x${string}`)).toThrow(VrfEncodingError);
  });

  it("refuses secret keys outside [1, n-1]", () => {
    expect(() => vrfProve(`0x${"00".repeat(32)}`, seed)).toThrow(VrfScalarError);
    expect(() => vrfProve(`0x${N.toString(16)}`, seed)).toThrow(VrfScalarError);
  });

  it("is deterministic: one output per key and seed, so a node cannot re-roll", () => {
    expect(vrfProve(alice, seed)).toBe(proof);
    expect(vrfEvaluate(alice, otherSeed)).not.toBe(vrfEvaluate(alice, seed));
  });

  it("gives the EVM verifier hints that are the true products", () => {
    const hints = vrfVerifierHints(alicePk, seed, proof);
    const y = secp256k1.ProjectivePoint.fromHex(alicePk.slice(2)).toAffine();
    expect(hints.publicKey).toEqual([y.x, y.y]);
  });
});

describe("the construction against RFC 9381", () => {
  // Appendix B.1, example 10 (ECVRF-P256-SHA256-TAI): the same code on P-256 with suite 0x01.
  const rfc = ecvrfSuite(p256, 0x01);
  const sk = "0xc9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
  const alpha = "0x73616d706c65";

  it("reproduces example 10's key, proof and output bit for bit", () => {
    expect(rfc.vrfPublicKey(sk)).toBe("0x0360fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6");
    const proof = rfc.vrfProve(sk, alpha);
    expect(proof).toBe(
      "0x035b5c726e8c0e2c488a107c600578ee75cb702343c153cb1eb8dec77f4b5071b4a53f0a46f018bc2c56e58d383f2305e0975972c26feea0eb122fe7893c15af376b33edf7de17c6ea056d4d82de6bc02f",
    );
    expect(rfc.vrfVerify(rfc.vrfPublicKey(sk), alpha, proof)).toBe(
      "0xa3ad7b0ef73d8fc6655053ea22f9bede8c743f08bbed3d38821f0e16474b505e",
    );
  });
});
