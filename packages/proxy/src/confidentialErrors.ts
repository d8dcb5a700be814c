import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { ProxyErrorCode } from "./errorCodes.js";
import { RetryLaterError } from "./errors.js";

/**
 * The gateway's refusals around confidential (security level 3) requests, which it routes sealed and never reads.
 * Messages never carry the envelope, a session id or attacker-chosen text.
 */

/** The model is served only by confidential tasks: a request in clear would put the prompt in a level-3 stack. */
export class ConfidentialRequiredError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialRequiredError";
  constructor() {
    super(
      "confidential_required",
      "this model is served only confidentially: open a session (POST /v1/confidential/sessions) and send a sealed envelope",
    );
  }
}

/** A sealed envelope with no session header: the gateway cannot sign it for a stack the client did not seal to. */
export class ConfidentialSessionRequiredError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialSessionRequiredError";
  constructor() {
    super(
      "confidential_session_required",
      "a sealed request names its session in the x-atoma-confidential-session header",
    );
  }
}

/** The body is not exactly a confidential envelope (the gateway checks its shape, it cannot open it). */
export class ConfidentialEnvelopeInvalidError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialEnvelopeInvalidError";
  constructor(options?: AtomaErrorOptions) {
    super(
      "confidential_envelope_invalid",
      "a confidential request's body is exactly {atoma_confidential:{v:1,enc,ciphertext}}",
      options,
    );
  }
}

/** Unknown, expired, already used, or another key's: all read the same. */
export class ConfidentialSessionUnknownError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialSessionUnknownError";
  constructor() {
    super("confidential_session_unknown", "no open confidential session of this key has that id");
  }
}

/** The key holds as many open sessions as it may, in all or on the model (its share of the model's stacks). */
export class ConfidentialSessionsExceededError extends RetryLaterError {
  override name = "ConfidentialSessionsExceededError";
  readonly retryAfterSeconds: number;
  constructor(limit: number, retryAfterSeconds: number, model?: string) {
    super(
      "confidential_sessions_exceeded",
      model === undefined
        ? `this key holds ${limit} open confidential sessions: use or let one expire`
        : `this key holds ${limit} open confidential sessions for ${model}, its share of the model's stacks: use or let one expire`,
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The session's node failed (or could not be reached) before answering: the sealed request cannot go to another
 * node (it opens only with this one's key). The client opens a new session, on another node, and seals again.
 */
export class ConfidentialSessionFailedError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialSessionFailedError";
  readonly nodeId: bigint;
  constructor(nodeId: bigint, options?: AtomaErrorOptions) {
    super(
      "confidential_session_failed",
      `node ${nodeId} failed the sealed request: open a new session (another node) and seal the request again`,
      options,
    );
    this.nodeId = nodeId;
  }
}

/** This gateway routes no confidential requests (no network upstream). */
export class ConfidentialUnsupportedError extends AtomaError<ProxyErrorCode> {
  override name = "ConfidentialUnsupportedError";
  constructor() {
    super("confidential_unsupported", "this gateway does not route confidential requests");
  }
}

/**
 * The session's node refused the gateway a fresh quote for now (its per-source budget, and every user of the gateway
 * asks from the gateway's address). Passed on with the node's `retry-after`, never as evidence: the client waits or
 * takes the node's epoch evidence (the same route without `nonce`, no quote spent).
 */
export class AttestationRateLimitedError extends RetryLaterError {
  override name = "AttestationRateLimitedError";
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super(
      "attestation_rate_limited",
      "the node's fresh quotes are spent for now: retry after the delay, or fetch its epoch evidence (no nonce)",
    );
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * The session's node served no evidence (an error, or an answer that is not an attestation). Its own code, when it
 * gave one, is named (`confidential_unsupported`: it has no confidential compute; `attestation_unavailable` or
 * `attestation_record_stale`: not for now), whichever it is the client opens a new session at another node.
 */
export class AttestationUnavailableError extends AtomaError<ProxyErrorCode> {
  override name = "AttestationUnavailableError";
  /** The node's `error.code`, when it answered with one (a lowercase snake-case word, nothing else is kept). */
  readonly nodeCode: string | undefined;
  constructor(status: number, nodeCode?: string) {
    const code = nodeCode !== undefined && /^[a-z][a-z0-9_]{0,63}$/.test(nodeCode) ? nodeCode : undefined;
    super(
      "attestation_unavailable",
      `the session's node served no evidence (it answered ${status}${code ? ` ${code}` : ""}): open a new session at another node`,
    );
    this.nodeCode = code;
  }
}
