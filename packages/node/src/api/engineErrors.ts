import { AtomaError, InvalidInputError } from "@atoma/core";
import { QueueFullError, ShuttingDownError, UnknownModelError } from "../errors.js";

/**
 * The node's error for an engine's: invalid or unsupported request fields and an over-long context become 400,
 * an unknown model 404, a full engine queue 429 (with its `Retry-After`), a stopped engine 503. Others pass.
 */
export function fromEngineError(error: unknown): unknown {
  if (!(error instanceof AtomaError)) return error;
  switch (error.code) {
    case "invalid_request":
    case "unsupported_parameter":
    case "context_length_exceeded":
      return new InvalidInputError(error.shortMessage, { cause: error });
    case "model_not_found":
      return new UnknownModelError((error as AtomaError & { model: string }).model);
    case "engine_busy":
      return new QueueFullError(
        error.shortMessage,
        (error as AtomaError & { retryAfterSeconds: number }).retryAfterSeconds,
      );
    case "engine_stopped":
      return new ShuttingDownError();
    default:
      return error;
  }
}

/** Runs an engine call, translating its errors. */
export async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw fromEngineError(error);
  }
}
