import type { GenerationEnd } from "../embedded/generate.js";
import type { ChatMessageOut, FinishReason } from "../openai/responses.js";
import type { ToolDialect } from "./dialects/ToolDialect.js";
import type { OutputFormat } from "./outputFormat.js";
import { isToolCallText, scanToolCalls } from "./toolCallText.js";

/** The id of an answer's call `index`. */
export type CallId = (index: number) => string;

/** Whether a generated text is tool calls (it can be only when the format lets the answer call a tool). */
export function isToolAnswer(text: string, output: OutputFormat, dialect: ToolDialect): boolean {
  return output.tools.length > 0 && isToolCallText(text, dialect);
}

/**
 * The assistant message a generated text stands for (read in the model's tool-call dialect): its calls (with the arguments written so far, when the token
 * limit cut them off) and finish reason `tool_calls` when it ended at an end-of-generation token, or the text.
 */
export function chatAnswer(
  text: string,
  end: GenerationEnd,
  output: OutputFormat,
  callId: CallId,
  dialect: ToolDialect,
): { message: ChatMessageOut; finishReason: FinishReason } {
  if (!isToolAnswer(text, output, dialect))
    return { message: { role: "assistant", content: text }, finishReason: end };
  const calls = scanToolCalls(text, dialect).map((call, index) => ({
    id: callId(index),
    type: "function" as const,
    function: { name: call.name, arguments: call.arguments },
  }));
  return {
    message: { role: "assistant", content: null, ...(calls.length > 0 ? { tool_calls: calls } : {}) },
    finishReason: end === "stop" ? "tool_calls" : end,
  };
}
