import { AtomaError, type AtomaErrorOptions, InvalidSignatureError } from "@atoma/core";

/** The request lacks the owner's authorisation headers, or one is malformed (401, like a missing API key). */
export class MissingAuthorizationError extends InvalidSignatureError {
  override name = "MissingAuthorizationError";
}

/** The signed request's deadline has passed, or lies further ahead than the node accepts (401). */
export class RequestExpiredError extends InvalidSignatureError {
  override name = "RequestExpiredError";
}

/** The node's signing address is not registered in the NodeRegistry, so it serves no stack. */
export class NodeNotRegisteredError extends AtomaError {
  override name = "NodeNotRegisteredError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("NODE_NOT_REGISTERED", message, options);
  }
}

/** A leaf's request or response would not read back as what the node signed: nothing is recorded or delivered. */
export class LeafEncodingError extends AtomaError {
  override name = "LeafEncodingError";
  constructor(what: "request" | "response") {
    super("LEAF_ENCODING", `the ${what} would not read back from its record as signed`);
  }
}
