import { PromptTooLongError } from "../errors.js";
import type { StackApi } from "./apiContext.js";
import type { PreparedBody } from "./prepareBody.js";

export interface UnitBound {
  promptTokens: number;
  /** The most units the request can use: prompt tokens plus the most tokens it may generate. */
  units: bigint;
}

/**
 * Bounds a prepared request's units from above, so the reservation always covers the actual usage. Throws
 * `PromptTooLongError` (400) past `limits.maxPromptTokens`.
 */
export function boundUnits(api: StackApi, prepared: PreparedBody): UnitBound {
  const { generation, promptTokens } = prepared;
  if (promptTokens > api.limits.maxPromptTokens)
    throw new PromptTooLongError(promptTokens, api.limits.maxPromptTokens);
  if (!generation) return { promptTokens, units: BigInt(Math.max(1, promptTokens)) };
  const room = Math.max(0, generation.maxModelLen - promptTokens);
  const requested = generation.sampling.maxTokens ?? room;
  return { promptTokens, units: BigInt(Math.max(1, promptTokens + Math.min(requested, room))) };
}
