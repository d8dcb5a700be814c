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
