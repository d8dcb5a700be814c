import type { JSONWebKeySet } from "jose";
import { fromHex, type HexString } from "./bytes.js";
import { verifyDevQuote } from "./devQuote.js";
import { AttestationMalformedError, DevEvidenceRefusedError, GpuEvidenceMissingError } from "./errors.js";
import type { AttestationEvidence } from "./evidence.js";
import { type GpuVerdict, gpuNonceFor, verifyNvidiaGpuToken } from "./gpuToken.js";
import { type AllowedMeasurement, checkMeasurements, type TdMeasurements } from "./measurements.js";
import type { NonceStore } from "./nonceStore.js";
import { checkReportData, type EvidenceBinding, type Freshness } from "./reportData.js";
import { type TcbStatus, type VerifiedQuote, verifyTdxQuote } from "./tdx.js";

/** What a verifier trusts. Development evidence is refused unless `dev` is set. */
export interface AttestationPolicy {
  /** Approved software stacks (governance records them on-chain per task or model). */
  measurements: readonly AllowedMeasurement[];
  /** Accepted TCB statuses of TDX platforms (default `UpToDate` only). */
  allowedTcbStatuses?: readonly TcbStatus[];
  /** DER of the Intel root CA; the production root built into the DCAP library when omitted. */
  intelRootCaDer?: Buffer;
  /** Accept development evidence certified by this root. Never set outside a local network. */
  dev?: { rootCertificatePem: string };
  /** GPU evidence: checked whenever present; evidence without it is refused unless `required` is `false`. */
  gpu?: { jwks: JSONWebKeySet; issuer?: string; required?: boolean };
}

/** What the client expects the evidence to vouch for. */
export interface AttestationExpectation {
  /** The node's signing address as registered on-chain. */
  signingAddress: HexString;
  freshness: Freshness;
  /** When the freshness is a nonce: the store that issued it; the nonce is spent on success. */
  nonces?: NonceStore;
  /** Verification time (default now). */
  now?: Date;
}

export interface AttestationVerdict {
  kind: "tdx" | "dev";
  /** True for development evidence: it proves nothing about hardware. */
  insecure: boolean;
  /** How a user interface shows the kind. */
  label: "Intel TDX" | "insecure, development";
  tcbStatus: VerifiedQuote["tcbStatus"];
  advisoryIds: string[];
  measurements: TdMeasurements;
  /** The allow-list entry the measurements matched. */
  allowed: AllowedMeasurement;
  /** What the report data was checked to bind: the key to seal requests to is `binding.encryptionPublicKey`. */
  binding: EvidenceBinding;
  gpu?: GpuVerdict;
  /** The evidence carried a GPU token but the policy has no NVIDIA key set: nothing about the GPUs was checked. */
  gpuUnchecked: boolean;
  verifiedAt: Date;
}

/** Step 1 of `verifyAttestation`: the quote of either kind (signatures, chain, collateral window, TCB level). */
export function verifyEvidenceQuote(
  evidence: AttestationEvidence,
  policy: AttestationPolicy,
  now: Date,
): VerifiedQuote {
  const quote = fromHex(evidence.quote, "quote");
  if (evidence.kind === "tdx")
    return verifyTdxQuote(quote, evidence.collateral, {
      nowSeconds: Math.floor(now.getTime() / 1000),
      allowedTcbStatuses: policy.allowedTcbStatuses ?? ["UpToDate"],
      ...(policy.intelRootCaDer ? { rootCaDer: policy.intelRootCaDer } : {}),
    });
  if (evidence.kind === "dev") {
    if (!policy.dev)
      throw new DevEvidenceRefusedError(
        "development attestation is refused: this verifier is not configured to accept insecure evidence",
      );
    return verifyDevQuote(quote, evidence.attestationKeyCertificate, policy.dev.rootCertificatePem, now);
  }
  throw new AttestationMalformedError(
    `unknown attestation kind ${String((evidence as { kind: unknown }).kind)}`,
  );
}

/**
 * The one entry point for checking a node's attestation, whatever its kind: the quote (signatures, certificate
 * chain, collateral validity, TCB level), the measurements against the allow-list, the report data against the
 * expected signing address, encryption key and freshness value, the GPU token when there is one and the policy
 * has a key set for it (otherwise the verdict says `gpuUnchecked`), and last the
 * nonce, spent only once everything else passed. Each failure throws its own `ConfidentialError` subclass.
 */
export async function verifyAttestation(
  evidence: AttestationEvidence,
  policy: AttestationPolicy,
  expected: AttestationExpectation,
): Promise<AttestationVerdict> {
  const now = expected.now ?? new Date();
  const verified = verifyEvidenceQuote(evidence, policy, now);
  const allowed = checkMeasurements(verified.measurements, policy.measurements);
  const binding: EvidenceBinding = {
    signingAddress: expected.signingAddress,
    encryptionPublicKey: evidence.encryptionPublicKey,
    freshness: expected.freshness,
  };
  checkReportData(verified.reportData, binding);
  let gpu: GpuVerdict | undefined;
  if (evidence.gpuToken !== undefined && policy.gpu)
    gpu = await verifyNvidiaGpuToken(evidence.gpuToken, {
      jwks: policy.gpu.jwks,
      expectedNonce: gpuNonceFor(verified.reportData),
      now,
      ...(policy.gpu.issuer ? { issuer: policy.gpu.issuer } : {}),
    });
  else if (evidence.gpuToken === undefined && policy.gpu && policy.gpu.required !== false)
    throw new GpuEvidenceMissingError("GPU evidence is required but none was sent");
  if (expected.freshness.kind === "nonce" && expected.nonces)
    expected.nonces.consume(expected.freshness.nonce);
  const insecure = evidence.kind === "dev";
  return {
    kind: evidence.kind,
    insecure,
    label: insecure ? "insecure, development" : "Intel TDX",
    tcbStatus: verified.tcbStatus,
    advisoryIds: verified.advisoryIds,
    measurements: verified.measurements,
    allowed,
    binding,
    ...(gpu ? { gpu } : {}),
    gpuUnchecked: evidence.gpuToken !== undefined && !policy.gpu,
    verifiedAt: now,
  };
}
