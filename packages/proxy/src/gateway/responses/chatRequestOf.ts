import { InvalidInputError } from "@atoma/core";

type Json = Record<string, unknown>;
type ChatMessage = Json;

/** Settings a Responses request shares with chat completions under the same name. */
const SAME_NAME = [
  "model",
  "temperature",
  "top_p",
  "parallel_tool_calls",
  "user",
  "top_logprobs",
  // The gateway's routing preferences (OpenRouter's), read by the chat route and never sent to the node.
  "provider",
] as const;
/** Accepted and not forwarded: they change nothing a node computes (no model here reasons apart). */
const IGNORED = new Set([
  "store",
  "metadata",
  "truncation",
  "service_tier",
  "include",
  "background",
  "reasoning",
]);
const KNOWN = new Set<string>([
  ...SAME_NAME,
  ...IGNORED,
  "input",
  "instructions",
  "max_output_tokens",
  "stream",
  "tools",
  "tool_choice",
  "text",
  "previous_response_id",
]);

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The chat completions body that asks a node what a Responses API request (`POST /v1/responses`) asks:
 * `instructions` become the system message, `input` (text or message, function call and function call output
 * items) the messages, `max_output_tokens` the `max_tokens`, function `tools` and `tool_choice` their chat shape,
 * and `text.format` the `response_format`. The gateway keeps no conversations, so `previous_response_id` is refused.
 */
export function chatRequestOf(body: Json): Json {
  for (const name of Object.keys(body))
    if (!KNOWN.has(name)) throw new InvalidInputError(`unknown field ${name.slice(0, 64)}`);
  if (body.previous_response_id !== undefined && body.previous_response_id !== null)
    throw new InvalidInputError("previous_response_id is not supported: send the conversation in input");
  const chat: Json = {};
  for (const name of SAME_NAME) if (body[name] !== undefined) chat[name] = body[name];
  // Chat takes top_logprobs only with logprobs asked for; Responses asks with either.
  const wantsLogprobs =
    (typeof body.top_logprobs === "number" && body.top_logprobs > 0) ||
    (Array.isArray(body.include) && body.include.includes("message.output_text.logprobs"));
  if (wantsLogprobs) chat.logprobs = true;
  const messages: ChatMessage[] = [];
  if (body.instructions !== undefined && body.instructions !== null) {
    if (typeof body.instructions !== "string") throw new InvalidInputError("instructions must be a string");
    messages.push({ role: "system", content: body.instructions });
  }
  messages.push(...messagesOf(body.input));
  chat.messages = messages;
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null)
    chat.max_tokens = body.max_output_tokens;
  if (body.stream === true) chat.stream = true;
  if (body.tools !== undefined) chat.tools = toolsOf(body.tools);
  if (body.tool_choice !== undefined) chat.tool_choice = toolChoiceOf(body.tool_choice);
  const format = responseFormatOf(body.text);
  if (format !== undefined) chat.response_format = format;
  return chat;
}

function messagesOf(input: unknown): ChatMessage[] {
  if (typeof input === "string") return [{ role: "user", content: input }];
  if (!Array.isArray(input) || input.length === 0)
    throw new InvalidInputError("input must be a string or a non-empty array of items");
  const messages: ChatMessage[] = [];
  for (const [index, item] of input.entries()) {
    if (!isObject(item)) throw new InvalidInputError(`input[${index}] must be an object`);
    const type = item.type ?? "message";
    if (type === "message") messages.push(messageOf(item, index));
    else if (type === "function_call") {
      const call = {
        id: item.call_id,
        type: "function",
        function: { name: item.name, arguments: item.arguments },
      };
      const last = messages.at(-1);
      // Consecutive calls are one assistant turn, as chat completions expects them.
      if (last?.role === "assistant" && Array.isArray(last.tool_calls)) last.tool_calls.push(call);
      else messages.push({ role: "assistant", content: null, tool_calls: [call] });
    } else if (type === "function_call_output")
      messages.push({ role: "tool", tool_call_id: item.call_id, content: textOf(item.output, index) });
    else throw new InvalidInputError(`input[${index}] has an unsupported type`);
  }
  return messages;
}

function messageOf(item: Json, index: number): ChatMessage {
  const role = item.role === "developer" ? "system" : item.role;
  if (role !== "user" && role !== "system" && role !== "assistant")
    throw new InvalidInputError(`input[${index}].role must be user, system, developer or assistant`);
  return { role, content: textOf(item.content, index) };
}

/** Text, or the text of `input_text` / `output_text` parts joined (the nodes serve text models). */
function textOf(content: unknown, index: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((part) => {
        if (
          isObject(part) &&
          (part.type === "input_text" || part.type === "output_text") &&
          typeof part.text === "string"
        )
          return part.text;
        throw new InvalidInputError(`input[${index}] has a content part that is not text`);
      })
      .join("");
  throw new InvalidInputError(`input[${index}].content must be text or text parts`);
}

function toolsOf(tools: unknown): Json[] {
  if (!Array.isArray(tools)) throw new InvalidInputError("tools must be an array");
  return tools.map((tool, index) => {
    if (!isObject(tool) || tool.type !== "function")
      throw new InvalidInputError(`tools[${index}]: only function tools are supported`);
    const { type: _type, ...fn } = tool;
    return { type: "function", function: fn };
  });
}

function toolChoiceOf(choice: unknown): unknown {
  if (typeof choice === "string") return choice;
  if (isObject(choice) && choice.type === "function")
    return { type: "function", function: { name: choice.name } };
  throw new InvalidInputError("tool_choice must be auto, none, required or a function");
}

function responseFormatOf(text: unknown): Json | undefined {
  if (text === undefined || text === null) return undefined;
  if (!isObject(text)) throw new InvalidInputError("text must be an object");
  const format = text.format;
  if (format === undefined || format === null) return undefined;
  if (!isObject(format)) throw new InvalidInputError("text.format must be an object");
  if (format.type === "text") return undefined;
  if (format.type === "json_object") return { type: "json_object" };
  if (format.type === "json_schema") {
    const { type: _type, ...schema } = format;
    return { type: "json_schema", json_schema: schema };
  }
  throw new InvalidInputError("text.format.type must be text, json_object or json_schema");
}
