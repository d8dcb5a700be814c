type Json = Record<string, unknown>;

/** What a chat completion answered, gathered from one answer or from a stream's chunks. */
export interface ChatOutcome {
  id: string;
  created: number;
  model: string;
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
  usage: Json | undefined;
  atoma: unknown;
}

/** Ids of a response's parts, derived from the node's completion id so they are stable per answer. */
export const idsOf = (chatId: string) => ({
  response: `resp_${chatId}`,
  message: `msg_${chatId}`,
  call: (index: number) => `fc_${chatId}_${index}`,
});

export function messageItem(outcome: Pick<ChatOutcome, "id" | "text">, status: string): Json {
  return {
    type: "message",
    id: idsOf(outcome.id).message,
    status,
    role: "assistant",
    content: status === "in_progress" ? [] : [outputText(outcome.text)],
  };
}

export const outputText = (text: string): Json => ({
  type: "output_text",
  text,
  annotations: [],
  logprobs: [],
});

export function functionCallItem(
  chatId: string,
  index: number,
  call: ChatOutcome["toolCalls"][number],
  status: string,
): Json {
  return {
    type: "function_call",
    id: idsOf(chatId).call(index),
    call_id: call.id,
    name: call.name,
    arguments: call.arguments,
    status,
  };
}

/**
 * The Responses API object for `outcome`, echoing the request's settings as OpenAI does; `atoma` is the node's
 * receipt, passed through unchanged (it signs the chat completion the node returned).
 */
export function responseObject(
  request: Json,
  outcome: ChatOutcome,
  status: "in_progress" | "completed",
): Json {
  const done = status === "completed";
  const output: Json[] = [];
  if (done) {
    if (outcome.text.length > 0 || outcome.toolCalls.length === 0)
      output.push(messageItem(outcome, "completed"));
    outcome.toolCalls.forEach((call, index) => {
      output.push(functionCallItem(outcome.id, index, call, "completed"));
    });
  }
  const truncated = done && outcome.finishReason === "length";
  return {
    id: idsOf(outcome.id).response,
    object: "response",
    created_at: outcome.created,
    status: truncated ? "incomplete" : status,
    error: null,
    incomplete_details: truncated ? { reason: "max_output_tokens" } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: outcome.model,
    output,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: false,
    temperature: request.temperature ?? 1,
    text: request.text ?? { format: { type: "text" } },
    tool_choice: request.tool_choice ?? "auto",
    tools: request.tools ?? [],
    top_p: request.top_p ?? 1,
    truncation: "disabled",
    usage: done ? usageOf(outcome.usage) : null,
    metadata: request.metadata ?? {},
    ...(done && { atoma: outcome.atoma }),
  };
}

function usageOf(usage: Json | undefined): Json | null {
  if (!usage) return null;
  const input = Number(usage.prompt_tokens ?? 0);
  const output = Number(usage.completion_tokens ?? 0);
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: Number(usage.total_tokens ?? input + output),
  };
}

/** The outcome of a chat completion answer (not streamed). */
export function outcomeOfCompletion(answer: Json): ChatOutcome {
  const choice = (Array.isArray(answer.choices) ? answer.choices[0] : undefined) as Json | undefined;
  const message = (choice?.message ?? {}) as Json;
  const calls = Array.isArray(message.tool_calls) ? (message.tool_calls as Json[]) : [];
  return {
    id: String(answer.id ?? ""),
    created: Number(answer.created ?? Math.floor(Date.now() / 1000)),
    model: String(answer.model ?? ""),
    text: typeof message.content === "string" ? message.content : "",
    toolCalls: calls.map((call) => {
      const fn = (call.function ?? {}) as Json;
      return {
        id: String(call.id ?? ""),
        name: String(fn.name ?? ""),
        arguments: String(fn.arguments ?? ""),
      };
    }),
    finishReason: typeof choice?.finish_reason === "string" ? choice.finish_reason : null,
    usage: answer.usage as Json | undefined,
    atoma: answer.atoma,
  };
}
