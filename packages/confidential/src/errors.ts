import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { ConfidentialErrorCode } from "./errorCodes.js";

/** Base of every confidential-compute error: each subclass fixes one stable `code`. */
export class ConfidentialError extends AtomaError<ConfidentialErrorCode> {
  override name = "ConfidentialError";
}

/** The evidence cannot be parsed: wrong length, unknown version, not hex, not a quote at all. */
export class AttestationMalformedError extends ConfidentialError {
  override name = "AttestationMalformedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_malformed", message, options);
  }
}

/** A signature in the quote or along its certificate chain does not verify (a changed byte lands here). */
export class AttestationSignatureError extends ConfidentialError {
  override name = "AttestationSignatureError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_signature_invalid", message, options);
  }
}

/** The collateral or a certificate is outside its validity window at the verification time. */
export class CollateralExpiredError extends ConfidentialError {
  override name = "CollateralExpiredError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_collateral_expired", message, options);
  }
}

/**
 * The collateral is inside its window but older than the verifier takes (`maxCollateralAgeSeconds`): a node may not
 * keep serving the TCB info and revocation lists from before Intel's latest word on its platform.
 */
export class CollateralStaleError extends ConfidentialError {
  override name = "CollateralStaleError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_collateral_stale", message, options);
  }
}

/**
 * The collateral's TCB info is from an earlier TCB evaluation than the verifier takes (`minTcbEvaluationDataNumber`,
 * Intel's `tcbEvaluationDataNumber`): after a TCB recovery, TCB info from before it still rates a platform Intel has
 * since downgraded as up to date, however recently it was issued.
 */
export class TcbEvaluationOutdatedError extends ConfidentialError {
  override name = "TcbEvaluationOutdatedError";
  readonly evaluation: number;
  readonly minimum: number;
  constructor(evaluation: number, minimum: number) {
    super(
      "attestation_tcb_evaluation_outdated",
      `the node's TCB info is from TCB evaluation ${evaluation}, before the ${minimum} this verifier takes`,
    );
    this.evaluation = evaluation;
    this.minimum = minimum;
  }
}

/** The TD runs with attributes no confidential workload may have: debug mode, SEPT_VE_DISABLE off, reserved bits. */
export class TdAttributesRefusedError extends ConfidentialError {
  override name = "TdAttributesRefusedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_td_attributes_refused", message, options);
  }
}

/** The quoting enclave's report is not the one Intel's QE identity names (MRSIGNER, ISVPRODID, report hash). */
export class QeIdentityMismatchError extends ConfidentialError {
  override name = "QeIdentityMismatchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_qe_identity_mismatch", message, options);
  }
}

/** The collateral is for another platform (FMSPC) or another TEE type than the quote's. */
export class CollateralMismatchError extends ConfidentialError {
  override name = "CollateralMismatchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_collateral_mismatch", message, options);
  }
}

/** A certificate of the quote's chain is on Intel's revocation list. */
export class CertificateRevokedError extends ConfidentialError {
  override name = "CertificateRevokedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_certificate_revoked", message, options);
  }
}

/** The collateral lacks the root CA CRL or the PCK CRL (an empty list): revocation could not be checked. */
export class CrlMissingError extends ConfidentialError {
  override name = "CrlMissingError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_crl_missing", message, options);
  }
}

/** A CRL of the collateral is not a DER X.509 CRL, or is not signed by the CA that issues it (root or PCK CA). */
export class CrlInvalidError extends ConfidentialError {
  override name = "CrlInvalidError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_crl_invalid", message, options);
  }
}

/** A CRL of the collateral is outside its thisUpdate/nextUpdate window at the verification time, or has no nextUpdate. */
export class CrlExpiredError extends ConfidentialError {
  override name = "CrlExpiredError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_crl_expired", message, options);
  }
}

/**
 * The DCAP library refused the quote for a reason this package does not know by name (a new library version's
 * wording): refused all the same, its message in `details`, never passed off as another failure's code.
 */
export class QuoteRefusedError extends ConfidentialError {
  override name = "QuoteRefusedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_quote_refused", message, options);
  }
}

/** The platform's TCB is not one the policy accepts (out of date, or matching no level at all). */
export class TcbOutdatedError extends ConfidentialError {
  override name = "TcbOutdatedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_tcb_outdated", message, options);
  }
}

/** MRTD and RTMRs match no entry of the allow-list: the enclave runs software nobody approved. */
export class UnknownMeasurementError extends ConfidentialError {
  override name = "UnknownMeasurementError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_unknown_measurement", message, options);
  }
}

/** The quote's report data is not the hash over the expected signing address, key and freshness value. */
export class ReportDataMismatchError extends ConfidentialError {
  override name = "ReportDataMismatchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_report_data_mismatch", message, options);
  }
}

/** The evidence answers a nonce that was already used once. */
export class NonceReplayError extends ConfidentialError {
  override name = "NonceReplayError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_nonce_replayed", message, options);
  }
}

/** The evidence answers a nonce this client never issued, or one issued too long ago. */
export class NonceUnknownError extends ConfidentialError {
  override name = "NonceUnknownError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_nonce_unknown", message, options);
  }
}

/** Development evidence reached a verifier that was not told to accept it. */
export class DevEvidenceRefusedError extends ConfidentialError {
  override name = "DevEvidenceRefusedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_dev_refused", message, options);
  }
}

/** A certificate chain does not lead to the root the verifier trusts. */
export class UntrustedRootError extends ConfidentialError {
  override name = "UntrustedRootError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_untrusted_root", message, options);
  }
}

/** The GPU attestation token's signature does not verify against the key set (or names no key in it). */
export class GpuTokenSignatureError extends ConfidentialError {
  override name = "GpuTokenSignatureError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("gpu_token_signature_invalid", message, options);
  }
}

export class GpuTokenExpiredError extends ConfidentialError {
  override name = "GpuTokenExpiredError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("gpu_token_expired", message, options);
  }
}

/** The token names an algorithm other than ES384 (`none`, HS256 with the public key as secret, ...). */
export class GpuTokenAlgorithmError extends ConfidentialError {
  override name = "GpuTokenAlgorithmError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("gpu_token_algorithm_refused", message, options);
  }
}

/** The token verifies but says something else: wrong issuer, wrong nonce, or a failed overall result. */
export class GpuTokenClaimsError extends ConfidentialError {
  override name = "GpuTokenClaimsError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("gpu_token_claims_invalid", message, options);
  }
}

/** The verifier requires GPU evidence (`policy.gpu.required`) and the evidence carries no GPU token. */
export class GpuEvidenceMissingError extends ConfidentialError {
  override name = "GpuEvidenceMissingError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("gpu_evidence_missing", message, options);
  }
}

export class HpkeKeyError extends ConfidentialError {
  override name = "HpkeKeyError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("hpke_key_invalid", message, options);
  }
}

/** A sealed request or single response did not open: wrong key, changed bytes, or another context's ciphertext. */
export class HpkeOpenError extends ConfidentialError {
  override name = "HpkeOpenError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("hpke_open_failed", message, options);
  }
}

/** A stream chunk carries the expected sequence number but does not open under it. */
export class StreamChunkTamperedError extends ConfidentialError {
  override name = "StreamChunkTamperedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("stream_chunk_tampered", message, options);
  }
}

/** A chunk arrived ahead of its turn: one before it was dropped, or the stream was reordered. */
export class StreamChunkOutOfOrderError extends ConfidentialError {
  override name = "StreamChunkOutOfOrderError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("stream_chunk_out_of_order", message, options);
  }
}

/** A chunk whose sequence number was already opened arrived again. */
export class StreamChunkDuplicatedError extends ConfidentialError {
  override name = "StreamChunkDuplicatedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("stream_chunk_duplicated", message, options);
  }
}

/** The stream ended without its sealed final chunk. */
export class StreamTruncatedError extends ConfidentialError {
  override name = "StreamTruncatedError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("stream_truncated", message, options);
  }
}

/** A chunk arrived after the sealed final chunk. */
export class StreamAfterEndError extends ConfidentialError {
  override name = "StreamAfterEndError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("stream_after_end", message, options);
  }
}

/**
 * Intel collateral could not be fetched from the PCCS: unreachable, an error status, an answer too slow or too large
 * (bounded in time and bytes), or one missing what it must carry.
 */
export class CollateralFetchError extends ConfidentialError {
  override name = "CollateralFetchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("collateral_fetch_failed", message, options);
  }
}
