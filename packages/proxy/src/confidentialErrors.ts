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

/** The key holds as many open sessions as it may. */
export class ConfidentialSessionsExceededError extends RetryLaterError {
  override name = "ConfidentialSessionsExceededError";
  readonly retryAfterSeconds: number;
  constructor(limit: number, retryAfterSeconds: number) {
    super(
      "confidential_sessions_exceeded",
      `this key holds ${limit} open confidential sessions: use or let one expire`,
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
