import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/** The node answered with an error (OpenAI's shape); `code` is the node's stable error code. */
export class NodeRequestError extends AtomaError {
  override name = "NodeRequestError";
  readonly status: number;
  readonly type: string;
  /** Seconds to wait before retrying (from `Retry-After`), when the node said. */
  readonly retryAfterSeconds: number | undefined;
  constructor(
    status: number,
    error: { message: string; type: string; code: string },
    retryAfterSeconds?: number | undefined,
  ) {
    super(error.code || `http_${status}`, `node answered ${status}: ${error.message}`);
    this.status = status;
    this.type = error.type;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The response's `atoma` object does not prove what it should (signer, request hash, response hash, stack). */
export class ResponseVerificationError extends AtomaError {
  override name = "ResponseVerificationError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("RESPONSE_UNVERIFIED", message, options);
  }
}

/** The node could not be reached, even after resending the same signed request. */
export class NodeUnreachableError extends AtomaError {
  override name = "NodeUnreachableError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("NODE_UNREACHABLE", message, options);
  }
}
