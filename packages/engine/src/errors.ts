import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { EngineErrorCode } from "./errorCodes.js";

/** Token counts of work done before a request stopped, so a caller can account for it. */
export interface PartialUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/** A request the engine cannot run as given (bad field, out-of-range value, unsupported option). */
export class InvalidRequestError extends AtomaError<EngineErrorCode> {
  override name = "InvalidRequestError";
  /** The request field at fault, as a dotted path, when one is. */
  readonly param: string | undefined;
  constructor(message: string, options: AtomaErrorOptions & { param?: string | undefined } = {}) {
    super("invalid_request", message, options);
    this.param = options.param;
  }
}

/** A request asks for a feature the engine does not implement (n > 1, logit bias, tools…). */
export class UnsupportedParameterError extends AtomaError<EngineErrorCode> {
  override name = "UnsupportedParameterError";
  readonly param: string;
  constructor(param: string, message: string) {
    super("unsupported_parameter", message);
    this.param = param;
  }
}

/** Prompt plus requested completion do not fit the model's context window. */
export class ContextLengthExceededError extends AtomaError<EngineErrorCode> {
  override name = "ContextLengthExceededError";
  constructor(
    readonly promptTokens: number,
    readonly requestedTokens: number,
    readonly contextSize: number,
  ) {
    super(
      "context_length_exceeded",
      `this model's context holds ${contextSize} tokens; the request needs ${promptTokens} prompt tokens plus ${requestedTokens} to generate`,
    );
  }
}

/** The request names a model this engine does not serve. */
export class ModelNotFoundError extends AtomaError<EngineErrorCode> {
  override name = "ModelNotFoundError";
  constructor(readonly model: string) {
    super("model_not_found", `model "${model}" is not served here`);
  }
}

/** The model's queue is full; `retryAfterSeconds` estimates when a slot frees up. */
export class EngineBusyError extends AtomaError<EngineErrorCode> {
  override name = "EngineBusyError";
  constructor(
    readonly model: string,
    readonly retryAfterSeconds: number,
  ) {
    super(
      "engine_busy",
      `model "${model}" is busy: its queue is full; retry in about ${retryAfterSeconds} s`,
    );
  }
}

/** The caller went away (its AbortSignal fired) before the request finished. */
export class RequestAbortedError extends AtomaError<EngineErrorCode> {
  override name = "RequestAbortedError";
  constructor(readonly usage: PartialUsage = { prompt_tokens: 0, completion_tokens: 0 }) {
    super("request_aborted", "the request was cancelled by its caller");
  }
}

/** The engine is not running (not started, or stopping). */
export class EngineStoppedError extends AtomaError<EngineErrorCode> {
  override name = "EngineStoppedError";
  constructor() {
    super("engine_stopped", "the inference engine is not running");
  }
}

/** A model file could not be loaded. */
export class ModelLoadError extends AtomaError<EngineErrorCode> {
  override name = "ModelLoadError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("model_load_failed", message, options);
  }
}

/** A weights file's Merkle root differs from the root it was expected (registered) to have. */
export class WeightsRootMismatchError extends AtomaError<EngineErrorCode> {
  override name = "WeightsRootMismatchError";
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super("weights_root_mismatch", `weights root of ${path} is ${actual}, expected ${expected}`);
  }
}

/** An OpenAI-compatible upstream failed, answered badly, or could not be reached. */
export class UpstreamError extends AtomaError<EngineErrorCode> {
  override name = "UpstreamError";
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: AtomaErrorOptions,
  ) {
    super("upstream_error", message, options);
  }
}

/** A model download failed. */
export class ModelDownloadError extends AtomaError<EngineErrorCode> {
  override name = "ModelDownloadError";
  constructor(message: string, options?: AtomaErrorOptions) {
    super("model_download_failed", message, options);
  }
}

/** A model source names no readable file, or a file that is not a GGUF model. */
export class ModelFileError extends AtomaError<EngineErrorCode> {
  override name = "ModelFileError";
  constructor(message: string) {
    super("model_file_invalid", message);
  }
}
