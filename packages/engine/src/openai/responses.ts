/** Why a text completion ended: an end-of-generation token or stop sequence, or the token limit. */
export type TextFinishReason = "stop" | "length";

/** Why a chat choice ended: as a text completion, or an end-of-generation token after tool calls. */
export type FinishReason = TextFinishReason | "tool_calls";

/** A call the answer makes (its id derived from the request, so verifiers write the same). */
export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A stream's piece of a call: the first names it, the rest add to its arguments. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface TopLogprob {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes (a byte-fallback token's one byte). */
  bytes: number[];
}

/** OpenAI's chat logprobs: one entry per generated token (a final end-of-generation token left out). */
export interface ChatLogprobs {
  content: (TopLogprob & { top_logprobs: TopLogprob[] })[];
  refusal: null;
}

/** OpenAI's text-completion logprobs. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  /** Where each token's text starts in the completion (UTF-16 code units). */
  text_offset: number[];
}

export interface ChatMessageOut {
  role: "assistant";
  /** Null when the answer is tool calls. */
  content: string | null;
  tool_calls?: ToolCall[] | undefined;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: {
    index: number;
    message: ChatMessageOut;
    finish_reason: FinishReason;
    logprobs: ChatLogprobs | null;
  }[];
  usage: Usage;
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: {
    index: number;
    delta: { role?: "assistant"; content?: string; tool_calls?: ToolCallDelta[] };
    finish_reason: FinishReason | null;
    logprobs: ChatLogprobs | null;
  }[];
  /** Present (and `choices` empty) only on the last chunk, when the request set `stream_options.include_usage`. */
  usage?: Usage | null;
}

export interface TextCompletion {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: {
    index: number;
    text: string;
    finish_reason: TextFinishReason;
    logprobs: CompletionLogprobs | null;
  }[];
  usage: Usage;
}

export interface TextCompletionChunk {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  choices: {
    index: number;
    text: string;
    finish_reason: TextFinishReason | null;
    logprobs: CompletionLogprobs | null;
  }[];
  usage?: Usage | null;
}

export interface EmbeddingResponse {
  object: "list";
  model: string;
  data: { object: "embedding"; index: number; embedding: number[] | string }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** Tokens one request may hold (prompt plus completion). */
  max_model_len?: number | undefined;
}

export interface TokenizeResult {
  model: string;
  tokens: number[];
  count: number;
  max_model_len: number;
}
