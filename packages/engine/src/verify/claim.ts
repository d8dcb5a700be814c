import { reproducibleResult } from "@atoma/core";
import { InvalidRequestError } from "../errors.js";
import type { FinishReason } from "../openai/responses.js";

/** What a serving node says it produced for a request. */
export interface Claim {
  /** The completion text, as its response carries it. */
  text?: string | undefined;
  /** The generated token ids, a final end-of-generation token included, when the claimant gave them. */
  tokenIds?: readonly number[] | undefined;
  finishReason?: FinishReason | null | undefined;
  /** `usage.completion_tokens` of the response. */
  completionTokens?: number | undefined;
}

/** The claim an OpenAI-shaped chat or text completion response makes (its first choice). */
export function claimFromResponse(response: unknown): Claim {
  const result = reproducibleResult(response);
  if (result.object === "embedding")
    throw new InvalidRequestError("an embeddings response is not a completion");
  const choice = result.choices[0];
  if (!choice) throw new InvalidRequestError("the response has no choice");
  const finish = choice.finish_reason;
  if (finish !== null && finish !== "stop" && finish !== "length")
    throw new InvalidRequestError(`unknown finish_reason "${finish}"`);
  return { text: choice.text, finishReason: finish, completionTokens: result.usage.completion_tokens };
}
