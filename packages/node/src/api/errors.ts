import { AtomaError, InvalidSignatureError } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** The request lacks the owner's authorisation headers, or one is malformed (401, like a missing API key). */
export class MissingAuthorizationError extends InvalidSignatureError {
  override name = "MissingAuthorizationError";
}

/** The signed request's deadline has passed, or lies further ahead than the node accepts (401). */
export class RequestExpiredError extends InvalidSignatureError {
  override name = "RequestExpiredError";
}

/** A leaf's request or response would not read back as what the node signed: nothing is recorded or delivered. */
export class LeafEncodingError extends AtomaError<NodeErrorCode> {
  override name = "LeafEncodingError";
  constructor(what: "request" | "response") {
    super("leaf_encoding", `the ${what} would not read back from its record as signed`);
  }
}

/** The stack has no leaf at that index (404): its settled tree holds fewer. */
export class LeafNotFoundError extends AtomaError<NodeErrorCode> {
  override name = "LeafNotFoundError";
  constructor(stackId: bigint, leafIndex: bigint, leafCount: bigint) {
    super("leaf_not_found", `stack ${stackId} has no leaf ${leafIndex} (its settlement holds ${leafCount})`);
  }
}

/** The node has not posted the stack's root on-chain yet, so no proof under it exists (409; ask again later). */
export class StackNotSettledError extends AtomaError<NodeErrorCode> {
  override name = "StackNotSettledError";
  constructor(stackId: bigint) {
    super("stack_not_settled", `stack ${stackId} is not settled yet: its root is not on-chain`);
  }
}
