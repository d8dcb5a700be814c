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

/** How old a node's Intel collateral may be, by default: a week (nodes refresh theirs daily). */
export const DEFAULT_MAX_COLLATERAL_AGE_SECONDS = 7 * 24 * 3600;

/** What a verifier trusts. Development evidence is refused unless `dev` is set. */
export interface AttestationPolicy {
  /** Approved software stacks (governance records them on-chain per task or model). */
  measurements: readonly AllowedMeasurement[];
  /** Accepted TCB statuses of TDX platforms (default `UpToDate` only). */
  allowedTcbStatuses?: readonly TcbStatus[];
  /** DER of the Intel root CA; the production root built into the DCAP library when omitted. */
  intelRootCaDer?: Buffer;
  /**
   * The oldest collateral (TCB info, QE identity issue date) taken: a node keeping Intel's collateral from before a
   * revocation or TCB recovery is refused (`attestation_collateral_stale`) well before its nextUpdate. Nodes refresh
   * theirs from a PCCS daily. @default 604800 (7 days)
   */
  maxCollateralAgeSeconds?: number;
  /**
   * The lowest TCB evaluation taken (Intel's `tcbEvaluationDataNumber`, its latest the verifier knows of): TCB info
   * from an earlier one is refused (`attestation_tcb_evaluation_outdated`). Unset: any evaluation in date is taken.
   */
  minTcbEvaluationDataNumber?: number;
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
      maxCollateralAgeSeconds: policy.maxCollateralAgeSeconds ?? DEFAULT_MAX_COLLATERAL_AGE_SECONDS,
      minTcbEvaluationDataNumber: policy.minTcbEvaluationDataNumber,
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
export function verifyAttestation(
  evidence: AttestationEvidence,
  policy: AttestationPolicy,
  expected: AttestationExpectation,
): Promise<AttestationVerdict> {
  return verifyWith(evidence, policy, expected, (measured) =>
    checkMeasurements(measured, policy.measurements),
  );
}

/** What a verifier trusts when the allow-list is the chain's: everything of `AttestationPolicy` but the list. */
export type ChainListedPolicy = Omit<AttestationPolicy, "measurements">;

/**
 * `verifyAttestation` for a caller that holds the measurements to the chain's allow-list itself (the SDK: the node's
 * on-chain record names exactly these measurements, and the registry stands it on the task): every other check is
 * the same. The verdict's `allowed` is the measured stack, labelled as left to the chain. Never use it without that
 * check: on its own it accepts any software a genuine TD runs.
 */
export function verifyAttestationChainListed(
  evidence: AttestationEvidence,
  policy: ChainListedPolicy,
  expected: AttestationExpectation,
): Promise<AttestationVerdict> {
  return verifyWith(evidence, { ...policy, measurements: [] }, expected, (measured) => ({
    label: "the chain's allow-list (checked by the caller)",
    ...measured,
  }));
}

async function verifyWith(
  evidence: AttestationEvidence,
  policy: AttestationPolicy,
  expected: AttestationExpectation,
  allow: (measured: TdMeasurements) => AllowedMeasurement,
): Promise<AttestationVerdict> {
  const now = expected.now ?? new Date();
  const verified = verifyEvidenceQuote(evidence, policy, now);
  const allowed = allow(verified.measurements);
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
