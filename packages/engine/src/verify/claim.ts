import { reproducibleResult } from "@atoma/core";
import type { GenerationEnd } from "../embedded/generate.js";
import { InvalidRequestError } from "../errors.js";
import { HERMES_DIALECT } from "../structured/dialects/hermesDialect.js";
import type { ToolDialect } from "../structured/dialects/ToolDialect.js";
import { toolCallText } from "../structured/toolCallText.js";

/** What a serving node says it produced for a request. */
export interface Claim {
  /** The completion text as generated (a tool-call answer's: its calls as the model writes them). */
  text?: string | undefined;
  /** The generated token ids, a final end-of-generation token included, when the claimant gave them. */
  tokenIds?: readonly number[] | undefined;
  /** How generation ended (an answer that calls tools ends like any other, at an end-of-generation token). */
  finishReason?: GenerationEnd | null | undefined;
  /** `usage.completion_tokens` of the response. */
  completionTokens?: number | undefined;
}

/**
 * The claim an OpenAI-shaped chat or text completion response makes (its first choice). A chat answer's tool calls
 * are the text the grammar let the model write for them in the model's dialect (`EmbeddedEngine.toolDialect`), and
 * its finish reason `tool_calls` an end-of-generation token.
 */
export function claimFromResponse(response: unknown, dialect: ToolDialect = HERMES_DIALECT): Claim {
  const result = reproducibleResult(response);
  if (result.object === "embedding")
    throw new InvalidRequestError("an embeddings response is not a completion");
  if (result.object === "atoma.confidential.answer")
    throw new InvalidRequestError("a sealed confidential answer cannot be checked by recomputation");
  const choice = result.choices[0];
  if (!choice) throw new InvalidRequestError("the response has no choice");
  const finish = choice.finish_reason;
  if (finish !== null && finish !== "stop" && finish !== "length" && finish !== "tool_calls")
    throw new InvalidRequestError(`unknown finish_reason "${finish}"`);
  const calls = choice.tool_calls;
  if (calls && choice.text !== "") throw new InvalidRequestError("an answer is either text or tool calls");
  return {
    text: calls
      ? toolCallText(
          calls.map((call) => call.function),
          dialect,
        )
      : choice.text,
    finishReason: finish === "tool_calls" ? "stop" : finish,
    completionTokens: result.usage.completion_tokens,
  };
}
