import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/** Token counts of work done before a request stopped, so a caller can account for it. */
export interface PartialUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** A request the engine cannot run as given (bad field, out-of-range value, unsupported option). */
export class InvalidRequestError extends AtomaError {
  override name = "InvalidRequestError";
  /** The request field at fault, as a dotted path, when one is. */
  readonly param: string | undefined;
  constructor(message: string, options: AtomaErrorOptions & { param?: string | undefined } = {}) {
    super("INVALID_REQUEST", message, options);
    this.param = options.param;
  }
}

/** A request asks for a feature the engine does not implement (n > 1, logit bias, tools…). */
export class UnsupportedParameterError extends AtomaError {
  override name = "UnsupportedParameterError";
  readonly param: string;
  constructor(param: string, message: string) {
    super("UNSUPPORTED_PARAMETER", message);
    this.param = param;
  }
}

/** Prompt plus requested completion do not fit the model's context window. */
export class ContextLengthExceededError extends AtomaError {
  override name = "ContextLengthExceededError";
  constructor(
    readonly promptTokens: number,
    readonly requestedTokens: number,
    readonly contextSize: number,
  ) {
    super(
      "CONTEXT_LENGTH_EXCEEDED",
      `this model's context holds ${contextSize} tokens; the request needs ${promptTokens} prompt tokens plus ${requestedTokens} to generate`,
    );
  }
}

/** The request names a model this engine does not serve. */
export class ModelNotFoundError extends AtomaError {
  override name = "ModelNotFoundError";
  constructor(readonly model: string) {
    super("MODEL_NOT_FOUND", `model "${model}" is not served here`);
  }
}

/** The model's queue is full; `retryAfterSeconds` estimates when a slot frees up. */
export class EngineBusyError extends AtomaError {
  override name = "EngineBusyError";
  constructor(
    readonly model: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      "ENGINE_BUSY",
      `model "${model}" is busy: its queue is full; retry in about ${retryAfterSeconds} s`,
    );
  }
}

/** The caller went away (its AbortSignal fired) before the request finished. */
export class RequestAbortedError extends AtomaError {
  override name = "RequestAbortedError";
  constructor(readonly usage: PartialUsage = { prompt_tokens: 0, completion_tokens: 0 }) {
    super("REQUEST_ABORTED", "the request was cancelled by its caller");
  }
}

/** The engine is not running (not started, or stopping). */
export class EngineStoppedError extends AtomaError {
  override name = "EngineStoppedError";
  constructor() {
    super("ENGINE_STOPPED", "the inference engine is not running");
  }
}

/** A model file could not be loaded. */
export class ModelLoadError extends AtomaError {
  override name = "ModelLoadError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("MODEL_LOAD_FAILED", message, options);
  }
}

/** A weights file's Merkle root differs from the root it was expected (registered) to have. */
export class WeightsRootMismatchError extends AtomaError {
  override name = "WeightsRootMismatchError";
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super("WEIGHTS_ROOT_MISMATCH", `weights root of ${path} is ${actual}, expected ${expected}`);
  }
}

/** An OpenAI-compatible upstream failed, answered badly, or could not be reached. */
export class UpstreamError extends AtomaError {
  override name = "UpstreamError";
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: AtomaErrorOptions,
  ) {
    super("UPSTREAM_ERROR", message, options);
  }
}

/** A model download failed. */
export class ModelDownloadError extends AtomaError {
  override name = "ModelDownloadError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("MODEL_DOWNLOAD_FAILED", message, options);
  }
}
