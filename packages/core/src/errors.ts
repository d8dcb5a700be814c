import type { CoreErrorCode } from "./errorCodes.js";
/** Options every Atoma error accepts: extra lines for humans, and the error that caused it. */
export interface AtomaErrorOptions {
  details?: string | undefined;
  cause?: unknown;
}

/**
 * Base of every error the project throws. `code` is stable and machine-readable (HTTP and CLI map on it);
 * `shortMessage` is one line for users; `details` may add context that is safe to show.
 */
export class AtomaError<Code extends string = string> extends Error {
  override name = "AtomaError";
  readonly code: Code;
  readonly shortMessage: string;
  readonly details: string | undefined;

  constructor(code: Code, shortMessage: string, options: AtomaErrorOptions = {}) {
    super(options.details ? `${shortMessage}\n\nDetails: ${options.details}` : shortMessage, {
      cause: options.cause,
    });
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
  }
}

export class InvalidInputError extends AtomaError<CoreErrorCode> {
  override name = "InvalidInputError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("invalid_input", message, options);
  }
}

export class CanonicalJsonError extends AtomaError<CoreErrorCode> {
  override name = "CanonicalJsonError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("canonical_json", message, options);
  }
}

/** A JSON value nests deeper than the bound (`maxDepth` containers): refused before anything recurses over it. */
export class JsonTooDeepError extends AtomaError<CoreErrorCode> {
  override name = "JsonTooDeepError";
  readonly maxDepth: number;
  constructor(maxDepth: number, options?: AtomaErrorOptions) {
    super("json_too_deep", `JSON nests deeper than ${maxDepth} objects and arrays`, options);
    this.maxDepth = maxDepth;
  }
}

/** A string holds an unpaired UTF-16 surrogate, which no UTF-8 byte string can carry (RFC 8785 §3.2.2.2). */
export class InvalidUnicodeError extends AtomaError<CoreErrorCode> {
  override name = "InvalidUnicodeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("invalid_unicode", message, options);
  }
}

export class MerkleTreeError extends AtomaError<CoreErrorCode> {
  override name = "MerkleTreeError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("merkle_tree", message, options);
  }
}

export class InvalidSignatureError extends AtomaError<CoreErrorCode> {
  override name = "InvalidSignatureError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("invalid_signature", message, options);
  }
}
