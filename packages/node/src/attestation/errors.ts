import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/**
 * The serving node's inputs transcript cannot be used: not served, not matching its id, malformed, signed by
 * someone other than the stack owner, or not holding the settled number of requests. The attester then declares
 * it unavailable on-chain, and the server must post the sampled requests as calldata.
 */
export class TranscriptUnusableError extends AtomaError {
  override name = "TranscriptUnusableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("TRANSCRIPT_UNUSABLE", message, options);
  }
}

/** The chain holds no `SettlementSubmitted` event for the duty's stack within the searched blocks. */
export class SettlementNotFoundError extends AtomaError {
  override name = "SettlementNotFoundError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("SETTLEMENT_NOT_FOUND", message, options);
  }
}
