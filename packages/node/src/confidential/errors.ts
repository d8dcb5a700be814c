import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** `GET /v1/attestation`'s nonce is not exactly 32 bytes of `0x`-prefixed hex (400). */
export class InvalidAttestationNonceError extends AtomaError<NodeErrorCode> {
  override name = "InvalidAttestationNonceError";
  readonly param = "nonce";
  constructor(message: string) {
    super("invalid_attestation_nonce", message);
  }
}

/** Too many fresh quotes asked for at once: the node produces a bounded number per second (429). */
export class AttestationRateLimitedError extends AtomaError<NodeErrorCode> {
  override name = "AttestationRateLimitedError";
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(
      "attestation_rate_limited",
      "too many attestation requests: ask again later, or use the epoch evidence",
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The node has no evidence to serve (its source failed, or it has not attested yet) (503). */
export class AttestationUnavailableError extends AtomaError<NodeErrorCode> {
  override name = "AttestationUnavailableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("attestation_unavailable", message, options);
  }
}

/** The TEE interface (configfs-tsm) or the dev authority could not produce a quote. */
export class EvidenceSourceError extends AtomaError<NodeErrorCode> {
  override name = "EvidenceSourceError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("evidence_source_failed", message, options);
  }
}

/** A body that names `atoma_confidential` but is not a well-formed sealed envelope (400). */
export class ConfidentialEnvelopeError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialEnvelopeError";
  readonly param = "atoma_confidential";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("confidential_envelope_invalid", message, options);
  }
}

/** The sealed request does not open with this node's current key and this request's context (400). */
export class ConfidentialUndecryptableError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialUndecryptableError";
  constructor(options?: AtomaErrorOptions) {
    super(
      "confidential_undecryptable",
      "the sealed request does not open with this node's attested key for this stack, nonce and deadline: fetch the node's attestation again and re-seal",
      options,
    );
  }
}

/** A sealed request's encapsulated key was already used by another signed request (409). */
export class ConfidentialReplayedError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialReplayedError";
  constructor() {
    super("confidential_replayed", "this sealed request was already received: a replay is refused");
  }
}

/** A sealed request reached a node that runs no confidential compute, or a stack below level 3 (400). */
export class ConfidentialUnsupportedError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialUnsupportedError";
  constructor(message = "this node does not serve confidential requests") {
    super("confidential_unsupported", message);
  }
}

/** A request in clear on a confidential (level-3) stack: its task takes only sealed requests (400). */
export class ConfidentialRequiredError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialRequiredError";
  constructor(stackId: bigint) {
    super(
      "confidential_required",
      `stack ${stackId} belongs to a confidential task (security level 3): seal the request to the node's attested key`,
    );
  }
}
