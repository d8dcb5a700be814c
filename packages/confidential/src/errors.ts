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

/** The platform's TCB is not one the policy accepts (out of date, revoked, or matching no level at all). */
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
