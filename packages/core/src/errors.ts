/** Options every Atoma error accepts: extra lines for humans, and the error that caused it. */
export interface AtomaErrorOptions {
  details?: string | undefined;
  cause?: unknown;
}

/**
 * Base of every error the project throws. `code` is stable and machine-readable (HTTP and CLI map on it);
 * `shortMessage` is one line for users; `details` may add context that is safe to show.
 */
export class AtomaError extends Error {
  override name = "AtomaError";
  readonly code: string;
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(code: string, shortMessage: string, options: AtomaErrorOptions = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}

export class InvalidInputError extends AtomaError {
  override name = "InvalidInputError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("INVALID_INPUT", message, options);
  }
}

export class CanonicalJsonError extends AtomaError {
  override name = "CanonicalJsonError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("CANONICAL_JSON", message, options);
  }
}

export class MerkleTreeError extends AtomaError {
  override name = "MerkleTreeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("MERKLE_TREE", message, options);
  }
}

export class InvalidSignatureError extends AtomaError {
  override name = "InvalidSignatureError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("INVALID_SIGNATURE", message, options);
  }
}
