import type { LlamaModel } from "node-llama-cpp";
import type { TokenText } from "../openai/logprobs.js";
import type { Detokenize } from "./detokenizer.js";

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * Each token's text as it reads inside a completion, and its bytes: a byte-fallback token (`<0xE2>`) is that one
 * byte, whose text alone is the replacement character.
 */
export function tokenTextOf(model: LlamaModel, detokenize: Detokenize): TokenText {
  const metadata = model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly string[] } } };
  const vocabulary = metadata.tokenizer?.ggml?.tokens ?? [];
  return (token) => {
    const text = detokenize([token]);
    const byte = BYTE_TOKEN.exec(vocabulary[token] ?? "");
    return { text, bytes: byte ? [Number.parseInt(byte[1]!, 16)] : [...Buffer.from(text, "utf8")] };
  };
}
