import type { TokenLogprob } from "../embedded/generate.js";
import type { ChatRequest, CompletionRequest } from "./requests.js";
import type { ChatLogprobs, CompletionLogprobs, TopLogprob } from "./responses.js";

/** A token's text as a client reads it, and its UTF-8 bytes. */
export type TokenText = (token: number) => { text: string; bytes: number[] };

/** OpenAI's chat logprobs for these tokens. */
export function chatLogprobs(logprobs: readonly TokenLogprob[], textOf: TokenText): ChatLogprobs {
  const entry = (token: number, logprob: number): TopLogprob => {
    const { text, bytes } = textOf(token);
    return { token: text, logprob, bytes };
  };
  return {
    content: logprobs.map((step) => ({
      ...entry(step.token, step.logprob),
      top_logprobs: step.top.map((alternative) => entry(alternative.token, alternative.logprob)),
    })),
    refusal: null,
  };
}

/** OpenAI's text-completion logprobs for these tokens, the first one's text starting at `offset`. */
export function completionLogprobs(
  logprobs: readonly TokenLogprob[],
  textOf: TokenText,
  offset = 0,
): CompletionLogprobs {
  const result: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let at = offset;
  for (const step of logprobs) {
    const text = textOf(step.token).text;
    result.tokens.push(text);
    result.token_logprobs.push(step.logprob);
    result.top_logprobs.push(
      Object.fromEntries(
        step.top.map((alternative) => [textOf(alternative.token).text, alternative.logprob]),
      ),
    );
    result.text_offset.push(at);
    at += text.length;
  }
  return result;
}

/** Alternatives per token a request asks for: chats `top_logprobs` (with `logprobs: true`), completions `logprobs`. */
export function topLogprobsOf(
  request: ChatRequest | CompletionRequest,
  kind: "chat" | "completion",
): number | undefined {
  if (kind === "chat") {
    const chat = request as ChatRequest;
    return chat.logprobs === true ? (chat.top_logprobs ?? 0) : undefined;
  }
  const logprobs = (request as CompletionRequest).logprobs;
  return typeof logprobs === "number" ? logprobs : undefined;
}
