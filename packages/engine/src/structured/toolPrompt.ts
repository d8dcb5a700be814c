import { canonicalJson } from "@atoma/core";
import { type ChatMessage, type ChatRequest, contentText } from "../openai/requests.js";
import { HERMES_DIALECT } from "./dialects/hermesDialect.js";
import type { ToolDialect } from "./dialects/ToolDialect.js";
import { toolCallText } from "./toolCallText.js";

/**
 * The messages a chat template that cannot render tools renders, with what it has no place for written into the
 * text, Hermes/Qwen-style: the tools' definitions (canonical JSON: verifiers read bodies as canonical JSON) at the
 * end of the system message (or in one of its own), with how to call them in the model's dialect, an assistant
 * turn's calls as the text the model writes for them, and each run of tool results as one user turn of
 * `<tool_response>` blocks. A chat without tools, calls or results is rendered as it always was.
 */
export function promptMessages(
  request: Pick<ChatRequest, "messages" | "tools">,
  dialect: ToolDialect = HERMES_DIALECT,
): ChatMessage[] {
  const tools = request.tools ?? [];
  const messages = request.messages;
  if (tools.length === 0 && !messages.some((m) => m.role === "tool" || (m.tool_calls?.length ?? 0) > 0))
    return messages;
  const rendered: ChatMessage[] = [];
  /** The user turn the current run of tool results goes into. */
  let results: ChatMessage | undefined;
  for (const message of messages) {
    if (message.role === "tool") {
      const result = `<tool_response>\n${contentText(message.content)}\n</tool_response>`;
      if (results) results.content = `${results.content as string}\n${result}`;
      else {
        results = { role: "user", content: result };
        rendered.push(results);
      }
      continue;
    }
    results = undefined;
    if (message.role === "assistant" && (message.tool_calls?.length ?? 0) > 0) {
      const calls = toolCallText(
        message.tool_calls!.map((call) => call.function),
        dialect,
      );
      const text = contentText(message.content);
      rendered.push({ role: "assistant", content: text.length > 0 ? `${text}\n${calls}` : calls });
    } else rendered.push({ ...message, content: contentText(message.content) });
  }
  if (tools.length === 0) return rendered;
  const block = toolsBlock(tools, dialect);
  const first = rendered[0];
  if (first && (first.role === "system" || first.role === "developer"))
    rendered[0] = { ...first, content: `${first.content as string}\n\n${block}` };
  else rendered.unshift({ role: "system", content: block });
  return rendered;
}

function toolsBlock(tools: NonNullable<ChatRequest["tools"]>, dialect: ToolDialect): string {
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    ...tools.map((tool) => canonicalJson(tool)),
    "</tools>",
    "",
    dialect.toolsInstruction,
    toolCallText([{ name: "<function-name>", arguments: "<args-json-object>" }], dialect),
  ].join("\n");
}
