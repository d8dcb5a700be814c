import { AtomaError, type AtomaErrorOptions, type Hash, type StackLeaf } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/**
 * The serving node's inputs transcript cannot be used: not served, not matching its id, malformed, signed by
 * someone other than the stack owner, or not holding the settled number of requests. The attester then declares
 * it unavailable on-chain, and the server must post the sampled requests as calldata.
 */
export class TranscriptUnusableError extends AtomaError<NodeErrorCode> {
  override name = "TranscriptUnusableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("transcript_unusable", message, options);
  }
}

/**
 * The serving node's transcript rebuilds its settled root, and holds a leaf that breaks the leaf rules (a request
 * billed twice, a nonce at another index, running totals that do not add up): proof against the server, which
 * the attester submits to `ReceiptFraud` instead of committing.
 */
export class TranscriptFraudError extends AtomaError<NodeErrorCode> {
  override name = "TranscriptFraudError";
  readonly leaves: StackLeaf[];
  readonly proofs: Hash[][];
  constructor(message: string, evidence: { leaves: StackLeaf[]; proofs: Hash[][] }) {
    super("transcript_fraud", message);
    this.leaves = evidence.leaves;
    this.proofs = evidence.proofs;
  }
}

/** A sampled request is not one the engine can recompute (not a chat, completion or embeddings body). */
export class UnrecomputableRequestError extends AtomaError<NodeErrorCode> {
  override name = "UnrecomputableRequestError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("unrecomputable_request", message, options);
  }
}

/** The chain holds no `SettlementSubmitted` event for the duty's stack within the searched blocks. */
export class SettlementNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "SettlementNotFoundError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("settlement_not_found", message, options);
  }
}

/**
 * The VRF key registered for the node is not the one its signer derives (e.g. the operator registered another):
 * none of its selection proofs would verify, so the node refuses to run private selection rather than stay silent.
 */
export class VrfKeyMismatchError extends AtomaError<NodeErrorCode> {
  override name = "VrfKeyMismatchError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("vrf_key_mismatch", message, options);
  }
}
