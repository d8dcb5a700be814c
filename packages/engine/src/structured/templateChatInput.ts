import { canonicalJson } from "@atoma/core";
import { type ChatMessage, type ChatRequest, contentText } from "../openai/requests.js";

/** A message as a chat template that renders tools reads it (Hugging Face's convention). */
export interface TemplateMessage {
  role: string;
  content: string;
  name?: string;
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: unknown } }[];
  tool_call_id?: string;
}

/** What such a template renders: the messages, and the tools when the request has any. */
export interface TemplateChatInput {
  messages: TemplateMessage[];
  tools: unknown[] | undefined;
}

/**
 * The variables for a template that renders tools and calls itself: each message with only the fields templates
 * read, a call's arguments as the object they spell, in their own key order (templates write them with
 * `tojson`; text that is not JSON stays text), and the tools in canonical JSON's key order (a verifier reads the body as canonical JSON, so key order
 * must not depend on how the client wrote it).
 */
export function templateChatInput(request: Pick<ChatRequest, "messages" | "tools">): TemplateChatInput {
  const tools = request.tools ?? [];
  return {
    messages: request.messages.map(templateMessage),
    tools: tools.length === 0 ? undefined : tools.map((tool) => JSON.parse(canonicalJson(tool)) as unknown),
  };
}

function templateMessage(message: ChatMessage): TemplateMessage {
  const rendered: TemplateMessage = { role: message.role, content: contentText(message.content) };
  if (message.name != null) rendered.name = message.name;
  if (message.tool_call_id != null) rendered.tool_call_id = message.tool_call_id;
  if (message.tool_calls && message.tool_calls.length > 0)
    rendered.tool_calls = message.tool_calls.map((call) => ({
      id: call.id,
      type: "function",
      function: { name: call.function.name, arguments: argumentsValue(call.function.arguments) },
    }));
  return rendered;
}

function argumentsValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
