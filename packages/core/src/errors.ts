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

/** A JSON value nests deeper than the bound (`maxDepth` containers): refused before anything recurses over it. */
export class JsonTooDeepError extends AtomaError {
  override name = "JsonTooDeepError";
  readonly maxDepth: number;
  constructor(maxDepth: number, options?: AtomaErrorOptions) {
    super("JSON_TOO_DEEP", `JSON nests deeper than ${maxDepth} objects and arrays`, options);
    this.maxDepth = maxDepth;
  }
}

/** A string holds an unpaired UTF-16 surrogate, which no UTF-8 byte string can carry (RFC 8785 §3.2.2.2). */
export class InvalidUnicodeError extends AtomaError {
  override name = "InvalidUnicodeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("INVALID_UNICODE", message, options);
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
