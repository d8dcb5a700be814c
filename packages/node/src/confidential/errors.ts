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

/**
 * The node has confidential compute but no evidence to serve for now: its TEE interface failed, it has not attested
 * for an epoch yet, or its post was reorganised away (503: ask again shortly).
 */
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

/**
 * The node runs no confidential compute at all: it has no attestation to serve and opens no sealed request (400,
 * for good: another node is needed).
 */
export class ConfidentialUnsupportedError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialUnsupportedError";
  constructor(
    message = "this node runs no confidential compute: it serves no attestation and no sealed request",
  ) {
    super("confidential_unsupported", message);
  }
}

/**
 * The node has confidential compute, but the stack is not one sealed requests go to: its task is below security
 * level 3, or the node's own gate refuses it (400: seal for a level-3 stack).
 */
export class ConfidentialStackUnsupportedError extends AtomaError<NodeErrorCode> {
  override name = "ConfidentialStackUnsupportedError";
  constructor(stackId: bigint, level?: number) {
    super(
      "confidential_stack_unsupported",
      level === undefined
        ? `stack ${stackId} does not take sealed requests on this node`
        : `stack ${stackId} belongs to a task at security level ${level}: sealed requests go to level-3 (confidential) stacks only`,
    );
  }
}

/**
 * A level-3 stack on a node that posts no attestation record (no AttestationRegistry configured): it never takes
 * their sealed requests, however long one waits (400: the operator must configure it; use another node).
 */
export class AttestationNotPostedError extends AtomaError<NodeErrorCode> {
  override name = "AttestationNotPostedError";
  constructor() {
    super(
      "attestation_not_posted",
      "this node posts no attestation record (no AttestationRegistry configured): it takes no sealed requests for level-3 stacks",
    );
  }
}

/**
 * A level-3 stack while the node's attestation record on-chain is missing or expired: the node posts a new one on
 * its own (503: ask again shortly).
 */
export class AttestationRecordStaleError extends AtomaError<NodeErrorCode> {
  override name = "AttestationRecordStaleError";
  constructor() {
    super(
      "attestation_record_stale",
      "this node's attestation record on-chain is missing or expired: it takes no sealed requests until it posts a current one",
    );
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
