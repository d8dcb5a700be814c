import type { ProjPointType } from "@noble/curves/abstract/weierstrass";
import { secp256k1 } from "@noble/curves/secp256k1";
import { hmac } from "@noble/hashes/hmac";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, concatBytes, hexToBytes } from "@noble/hashes/utils";
import type { Hex } from "viem";
import { VrfEncodingError, VrfProofError, VrfScalarError } from "./errors.js";

/**
 * ECVRF on secp256k1 with SHA-256 and try-and-increment hash-to-curve, laid out as RFC 9381 §5 with the suite
 * byte 0xFE that EVM verifiers of this variant use. Proof = Gamma (33 bytes, compressed) || c (16) || s (32).
 */
export const VRF_SUITE = 0xfe;
export const VRF_PROOF_BYTES = 81;

type Point = ProjPointType<bigint>;
/** The parts of a short-Weierstrass curve the construction uses (noble's secp256k1 and p256 both fit). */
export interface VrfCurve {
  ProjectivePoint: {
    BASE: Point;
    ZERO: Point;
    fromHex(bytes: Uint8Array): Point;
  };
  CURVE: { n: bigint };
}
const C_BYTES = 16;

const toBytes32 = (value: bigint) => hexToBytes(value.toString(16).padStart(64, "0"));
const toBigInt = (bytes: Uint8Array) => (bytes.length === 0 ? 0n : BigInt(`0x${bytesToHex(bytes)}`));
const hex = (bytes: Uint8Array): Hex => `0x${bytesToHex(bytes)}`;
const bytesOf = (value: Hex | Uint8Array): Uint8Array =>
  typeof value === "string" ? hexToBytes(value.startsWith("0x") ? value.slice(2) : value) : value;

/** The decoded parts of a proof; throws on a non-canonical encoding. */
export interface DecodedProof {
  gamma: Point;
  c: bigint;
  s: bigint;
}

/** Affine coordinates as the Solidity verifier takes them. */
export type AffinePoint = readonly [bigint, bigint];

/**
 * What the EVM verifier needs besides the proof: U = s·G − c·Y, s·H and c·Gamma. It checks each with ecrecover
 * instead of multiplying, so these are hints, not trusted inputs.
 */
export interface VerifierHints {
  publicKey: AffinePoint;
  u: AffinePoint;
  sH: AffinePoint;
  cGamma: AffinePoint;
}

/**
 * The ECVRF-*-SHA256-TAI construction on any 32-byte prime-order curve: secp256k1 with suite 0xFE is the one the
 * protocol uses; P-256 with suite 0x01 is RFC 9381's ECVRF-P256-SHA256-TAI, which the tests check against the RFC.
 */
export function ecvrfSuite(curve: VrfCurve, suite: number) {
  const Point = curve.ProjectivePoint;
  const N = curve.CURVE.n;
  const mod = (a: bigint) => ((a % N) + N) % N;

  /** point_to_string: the 33-byte compressed SEC1 form. */
  function pointToBytes(point: Point): Uint8Array {
    return point.toRawBytes(true);
  }

  /** string_to_point, refusing anything but a canonical compressed encoding of a point on the curve. */
  function decodePoint(encoded: Hex | Uint8Array): Point {
    const bytes = bytesOf(encoded);
    if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3))
      throw new VrfEncodingError("a VRF point must be 33 bytes starting with 0x02 or 0x03");
    try {
      // fromHex refuses x ≥ p and an x with no point on the curve.
      return Point.fromHex(bytes);
    } catch (cause) {
      throw new VrfEncodingError("the VRF point is not on secp256k1", { cause });
    }
  }

  function secretScalar(secretKey: Hex | Uint8Array): bigint {
    const bytes = bytesOf(secretKey);
    const x = toBigInt(bytes);
    if (bytes.length !== 32 || x === 0n || x >= N)
      throw new VrfScalarError("a VRF secret key is 32 bytes in [1, n-1]");
    return x;
  }

  /** The compressed public key of a 32-byte secret key. */
  function vrfPublicKey(secretKey: Hex | Uint8Array): Hex {
    return hex(pointToBytes(Point.BASE.multiply(secretScalar(secretKey))));
  }

  /** ECVRF_encode_to_curve_try_and_increment (RFC 9381 §5.4.1.1), salted with the public key. */
  function encodeToCurve(publicKey: Uint8Array, alpha: Uint8Array): Point {
    for (let ctr = 0; ctr < 256; ++ctr) {
      const digest = sha256(
        concatBytes(Uint8Array.of(suite, 0x01), publicKey, alpha, Uint8Array.of(ctr, 0x00)),
      );
      try {
        return Point.fromHex(concatBytes(Uint8Array.of(0x02), digest));
      } catch {
        // Not an x-coordinate of the curve (about half of them): try the next counter.
      }
    }
    // 256 failures in a row happen with probability 2^-256.
    throw new VrfEncodingError("hash to curve found no point");
  }

  /**
   * H is a fresh point each time: noble's default 8-bit window would spend ~15 ms on precomputation per point;
   * a 4-bit window keeps the multiplication constant-time at a fifth of that.
   */
  function freshPoint(point: Point): Point {
    point._setWindowSize(4);
    return point;
  }

  /** ECVRF_challenge_generation (RFC 9381 §5.4.3): the first 16 bytes of SHA-256 over the five points. */
  function challenge(points: Point[]): bigint {
    const digest = sha256(
      concatBytes(Uint8Array.of(suite, 0x02), ...points.map(pointToBytes), Uint8Array.of(0x00)),
    );
    return toBigInt(digest.subarray(0, C_BYTES));
  }

  /** ECVRF_nonce_generation for these suites: RFC 6979 §3.2 with SHA-256 over h1 = SHA-256(point_to_string(H)). */
  function nonce(x: bigint, hString: Uint8Array): bigint {
    const h1 = toBytes32(mod(toBigInt(sha256(hString))));
    const key = toBytes32(x);
    let v: Uint8Array = new Uint8Array(32).fill(1);
    let k: Uint8Array = new Uint8Array(32);
    k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x00), key, h1));
    v = hmac(sha256, k, v);
    k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x01), key, h1));
    v = hmac(sha256, k, v);
    for (;;) {
      v = hmac(sha256, k, v);
      const candidate = toBigInt(v);
      if (candidate >= 1n && candidate < N) return candidate;
      k = hmac(sha256, k, concatBytes(v, Uint8Array.of(0x00)));
      v = hmac(sha256, k, v);
    }
  }

  /** ECVRF_proof_to_hash: beta = SHA-256(suite || 0x03 || point_to_string(Gamma) || 0x00); the cofactor is 1. */
  function gammaToHash(gamma: Point): Hex {
    return hex(sha256(concatBytes(Uint8Array.of(suite, 0x03), pointToBytes(gamma), Uint8Array.of(0x00))));
  }

  function decodeProof(proof: Hex | Uint8Array): DecodedProof {
    const bytes = bytesOf(proof);
    if (bytes.length !== VRF_PROOF_BYTES)
      throw new VrfEncodingError(`a VRF proof is ${VRF_PROOF_BYTES} bytes`);
    const gamma = decodePoint(bytes.subarray(0, 33));
    const c = toBigInt(bytes.subarray(33, 33 + C_BYTES));
    const s = toBigInt(bytes.subarray(33 + C_BYTES));
    // c = 0 or s = 0 occur for honest proofs with probability about 2^-128; the EVM verifier cannot take them.
    if (c === 0n) throw new VrfScalarError("the VRF proof's c is zero");
    if (s === 0n || s >= N) throw new VrfScalarError("the VRF proof's s is outside [1, n-1]");
    return { gamma, c, s };
  }

  /** ECVRF_prove: the 81-byte proof that `beta` is the output of `secretKey` on `alpha`. */
  function vrfProve(secretKey: Hex | Uint8Array, alpha: Hex | Uint8Array): Hex {
    const x = secretScalar(secretKey);
    const publicKey = pointToBytes(Point.BASE.multiply(x));
    const h = freshPoint(encodeToCurve(publicKey, bytesOf(alpha)));
    const gamma = h.multiply(x);
    const k = nonce(x, pointToBytes(h));
    const c = challenge([Point.fromHex(publicKey), h, gamma, Point.BASE.multiply(k), h.multiply(k)]);
    const s = mod(k + c * x);
    return hex(concatBytes(pointToBytes(gamma), toBytes32(c).subarray(32 - C_BYTES), toBytes32(s)));
  }

  /** ECVRF_proof_to_hash of a proof (without verifying it). */
  function vrfProofToHash(proof: Hex | Uint8Array): Hex {
    return gammaToHash(decodeProof(proof).gamma);
  }

  /** The VRF output alone (what a node compares with its threshold): one scalar multiplication, no proof. */
  function vrfEvaluate(secretKey: Hex | Uint8Array, alpha: Hex | Uint8Array): Hex {
    const x = secretScalar(secretKey);
    const publicKey = pointToBytes(Point.BASE.multiply(x));
    return gammaToHash(freshPoint(encodeToCurve(publicKey, bytesOf(alpha))).multiply(x));
  }

  /** ECVRF_verify: beta when `proof` proves it for `publicKey` and `alpha`; throws a VRF error otherwise. */
  function vrfVerify(publicKey: Hex | Uint8Array, alpha: Hex | Uint8Array, proof: Hex | Uint8Array): Hex {
    const y = decodePoint(publicKey);
    const { gamma, c, s } = decodeProof(proof);
    const h = encodeToCurve(pointToBytes(y), bytesOf(alpha));
    // Everything here is public: the faster variable-time multiplication is fine.
    const u = Point.BASE.multiply(s).subtract(y.multiplyUnsafe(c));
    const v = h.multiplyUnsafe(s).subtract(gamma.multiplyUnsafe(c));
    if (u.equals(Point.ZERO) || v.equals(Point.ZERO) || challenge([y, h, gamma, u, v]) !== c)
      throw new VrfProofError();
    return gammaToHash(gamma);
  }

  const affine = (point: Point): AffinePoint => {
    const { x, y } = point.toAffine();
    return [x, y];
  };

  function vrfVerifierHints(publicKey: Hex | Uint8Array, alpha: Hex | Uint8Array, proof: Hex | Uint8Array) {
    const y = decodePoint(publicKey);
    const { gamma, c, s } = decodeProof(proof);
    const h = encodeToCurve(pointToBytes(y), bytesOf(alpha));
    const hints: VerifierHints = {
      publicKey: affine(y),
      u: affine(Point.BASE.multiply(s).subtract(y.multiplyUnsafe(c))),
      sH: affine(h.multiplyUnsafe(s)),
      cGamma: affine(gamma.multiplyUnsafe(c)),
    };
    return hints;
  }

  return {
    pointToBytes,
    decodePoint,
    vrfPublicKey,
    encodeToCurve,
    decodeProof,
    vrfProve,
    vrfProofToHash,
    vrfEvaluate,
    vrfVerify,
    vrfVerifierHints,
  };
}

export const {
  pointToBytes,
  decodePoint,
  vrfPublicKey,
  encodeToCurve,
  decodeProof,
  vrfProve,
  vrfProofToHash,
  vrfEvaluate,
  vrfVerify,
  vrfVerifierHints,
} = ecvrfSuite(secp256k1, VRF_SUITE);
