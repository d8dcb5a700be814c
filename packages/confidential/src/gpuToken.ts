import { createHash } from "node:crypto";
import { createLocalJWKSet, decodeJwt, errors, type JSONWebKeySet, type JWTPayload, jwtVerify } from "jose";
import { fromHex, type HexString } from "./bytes.js";
import {
  type ConfidentialError,
  GpuTokenAlgorithmError,
  GpuTokenClaimsError,
  GpuTokenExpiredError,
  GpuTokenSignatureError,
} from "./errors.js";

/** The issuer NVIDIA's remote attestation service puts in its tokens. */
export const NRAS_ISSUER = "https://nras.attestation.nvidia.com";
/** Where NRAS publishes the key set its tokens are signed with. */
export const NRAS_JWKS_URL = "https://nras.attestation.nvidia.com/.well-known/jwks.json";

export interface GpuTokenOptions {
  /** The key set the token must be signed with (NRAS's published set, fetched and pinned by the caller). */
  jwks: JSONWebKeySet;
  /** The nonce the GPU evidence was collected for: `gpuNonceFor(reportData)`. */
  expectedNonce: HexString;
  /** Verification time. */
  now: Date;
  /** Expected `iss`; NRAS's own issuer when omitted. */
  issuer?: string;
}

export interface GpuVerdict {
  issuer: string;
  /** The overall attestation result NRAS signed: verification fails unless it is `true`. */
  overallResult: true;
  claims: JWTPayload;
}

/**
 * The nonce a node hands NVIDIA's verifier with its GPU evidence: SHA-256 of the TDX report data, so the GPU token
 * is bound to the same signing address, encryption key and freshness value as the CPU quote.
 */
export function gpuNonceFor(reportData: Uint8Array): HexString {
  return `0x${createHash("sha256").update(reportData).digest("hex")}`;
}

function classify(error: unknown): ConfidentialError | undefined {
  if (!(error instanceof errors.JOSEError)) return undefined;
  const options = { cause: error, details: error.message };
  switch (error.code) {
    case "ERR_JWT_EXPIRED":
      return new GpuTokenExpiredError("the GPU attestation token has expired", options);
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new GpuTokenAlgorithmError("the GPU attestation token is not signed with ES384", options);
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return new GpuTokenClaimsError("the GPU attestation token's claims are not the expected ones", options);
    default:
      return new GpuTokenSignatureError("the GPU attestation token's signature does not verify", options);
  }
}

/**
 * Verifies an NVIDIA remote attestation service token (ES384 JWT) against a JSON Web Key Set with `jose`: the
 * signature, the algorithm (ES384 only, so neither `none` nor an HMAC keyed with the public key passes), the
 * expiry, the issuer, the nonce and the overall result.
 */
export async function verifyNvidiaGpuToken(token: string, options: GpuTokenOptions): Promise<GpuVerdict> {
  const issuer = options.issuer ?? NRAS_ISSUER;
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(options.jwks), {
      algorithms: ["ES384"],
      issuer,
      currentDate: options.now,
      requiredClaims: ["exp", "iat"],
    }));
  } catch (error) {
    throw (
      classify(error) ??
      new GpuTokenSignatureError("the GPU attestation token cannot be verified", { cause: error })
    );
  }
  const nonce = payload.eat_nonce;
  const expected = Buffer.from(fromHex(options.expectedNonce, "GPU nonce", 32)).toString("hex");
  if (typeof nonce !== "string" || nonce.toLowerCase().replace(/^0x/, "") !== expected)
    throw new GpuTokenClaimsError("the GPU attestation token answers another nonce");
  if (payload["x-nvidia-overall-att-result"] !== true)
    throw new GpuTokenClaimsError(
      "NVIDIA's verifier did not pass the GPU evidence (overall result is not true)",
    );
  return { issuer, overallResult: true, claims: payload };
}

/**
 * The nonce a GPU token says it answers (`eat_nonce`, lowercase hex without `0x`), read WITHOUT verifying the token:
 * for the node to refuse serving a token its verifier produced for another nonce. Undefined when the text is not a
 * JWT or names no nonce. Never a substitute for `verifyNvidiaGpuToken`.
 */
export function unverifiedGpuTokenNonce(token: string): string | undefined {
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch {
    return undefined;
  }
  const nonce = payload.eat_nonce;
  return typeof nonce === "string" ? nonce.toLowerCase().replace(/^0x/, "") : undefined;
}
