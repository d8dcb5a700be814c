import { modelIdOf } from "@atoma/chain";
import { type Hash, hashCanonical } from "@atoma/core";
import { ContextLengthExceededError, InvalidRequestError, UnsupportedParameterError } from "@atoma/engine";

/**
 * What every honest node computes for a sampled request that is not valid for the task (docs/soundness.md,
 * "invalid request"): another model than the task's, a body that is not a chat, completion or embeddings
 * request, a prompt that does not fit. An honest server refuses such a request and never signs a leaf for it,
 * so a transcript holding one is evidence against its server, and attesters commit this instead of retrying.
 */
export const INVALID_REQUEST_RESULT = { object: "atoma.invalid_request" } as const;

/** respHash of the invalid-request result (its units are 0). */
export const INVALID_REQUEST_HASH: Hash = hashCanonical(INVALID_REQUEST_RESULT);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Why `body` is not a valid request of a task on model `taskModelId` (its on-chain id), judged from the body
 * alone, or undefined when it may be run.
 */
export function invalidForTask(body: unknown, taskModelId: Hash | undefined): string | undefined {
  if (!isRecord(body)) return "not a JSON object";
  if (!("messages" in body) && !("prompt" in body) && !("input" in body))
    return "not a chat, completion or embeddings request";
  if (typeof body.model !== "string") return "names no model";
  if (taskModelId !== undefined && modelIdOf(body.model).toLowerCase() !== taskModelId.toLowerCase())
    return "names another model than the task's";
  return undefined;
}

/** The engine refused the request as given (bad field, unsupported option, prompt too long for the context). */
export function engineRefused(error: unknown): boolean {
  return (
    error instanceof InvalidRequestError ||
    error instanceof UnsupportedParameterError ||
    error instanceof ContextLengthExceededError
  );
}
