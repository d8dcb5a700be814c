import { PromptTooLongError } from "../errors.js";
import type { StackApi } from "./apiContext.js";
import { MaxUnitsExceededError } from "./errors.js";
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

/**
 * The leaf of a request never claims more than its owner signed: a request that could use more than `maxUnits`
 * (its prompt alone, or with the most it may generate) is refused before anything is reserved. Refusing rather
 * than cutting generation short keeps the answer what any verifier re-running the signed body gets.
 */
export function checkSignedBound(bound: UnitBound, maxUnits: bigint): void {
  const prompt = BigInt(bound.promptTokens);
  if (prompt > maxUnits) throw new MaxUnitsExceededError(prompt, maxUnits, true);
  if (bound.units > maxUnits) throw new MaxUnitsExceededError(bound.units, maxUnits, false);
}
