import { TINY_CHAT_TEMPLATE } from "./chatTemplate.js";
import { LLAMA3_CHAT_TEMPLATE, LLAMA3_CONTROL_TOKENS } from "./llama3ChatTemplate.js";
import { MISTRAL_CHAT_TEMPLATE, MISTRAL_CONTROL_TOKENS } from "./mistralChatTemplate.js";

/**
 * The chat templates a tiny model can carry: ChatML (the default model's), a Llama-3.1-style and a Mistral-v3-style
 * one, both of which render tools (each a tool-call format of its own).
 */
export type TinyChatTemplate = "chatml" | "llama3" | "mistral";

/** Each template's text and the control tokens it needs in the vocabulary (after the tiny vocabulary's own). */
export const TINY_CHAT_TEMPLATES: Readonly<
  Record<TinyChatTemplate, { source: string; controlTokens: readonly string[] }>
> = Object.freeze({
  chatml: { source: TINY_CHAT_TEMPLATE, controlTokens: [] },
  llama3: { source: LLAMA3_CHAT_TEMPLATE, controlTokens: LLAMA3_CONTROL_TOKENS },
  mistral: { source: MISTRAL_CHAT_TEMPLATE, controlTokens: MISTRAL_CONTROL_TOKENS },
});
