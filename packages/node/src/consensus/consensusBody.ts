import { deriveSeed } from "@atoma/core";
import { type Address, encodePacked, type Hex, keccak256, toHex } from "viem";

/**
 * The recomputation contract of a smart-contract request: every honest node of the echelon sends its engine
 * exactly this chat body, so all of them produce the same output O and commit the same root.
 *
 * ```json
 * { "model": <the task's model id>,
 *   "messages": [{ "role": "user", "content": <the prompt bytes decoded as UTF-8, invalid bytes → U+FFFD> }],
 *   "temperature": 0, "top_p": 1, "top_k": 40, "min_p": 0,
 *   "seed": deriveSeed(keccak256(abi.encodePacked(consensusRequests, requestId))),
 *   "max_tokens": min(maxOutputTokens, maxUnits − promptTokens) }
 * ```
 *
 * Temperature 0 is greedy decoding; the seed is set anyway so the body is fully explicit. O is the UTF-8 bytes
 * of the first choice's content, cut at the contract's `maxOutputBytes`; units = prompt + completion tokens,
 * at most `maxUnits`. When the prompt alone uses `maxUnits`, O is empty and units = `maxUnits`.
 */
export interface ConsensusBodyInput {
  model: string;
  prompt: Hex;
  seed: number;
  maxTokens?: number | undefined;
  /**
   * A dispute recompute's own prefix-cache namespace: vLLM's `cache_salt` (a fresh salt shares no cached block with
   * any other request) and llama.cpp server's `cache_prompt: false`. The output is the same; what changes is that a
   * client probing the engine with the on-chain prompt sees no cache hit from this recompute (docs/vrf.md, M2).
   */
  cacheSalt?: string | undefined;
}

/** Output tokens a request may ask for at most, whatever its unit budget. @default 256 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 256;

export function consensusSeed(consensusRequests: Address, requestId: bigint): number {
  return deriveSeed(keccak256(encodePacked(["address", "uint256"], [consensusRequests, requestId])));
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** The prompt as text; bytes that are not UTF-8 become U+FFFD, the same on every node. */
export function promptText(prompt: Hex): string {
  return decoder.decode(hexBytes(prompt));
}

export function consensusChatBody(input: ConsensusBodyInput): Record<string, unknown> {
  return {
    model: input.model,
    messages: [{ role: "user", content: promptText(input.prompt) }],
    temperature: 0,
    top_p: 1,
    top_k: 40,
    min_p: 0,
    seed: input.seed,
    ...(input.maxTokens === undefined ? {} : { max_tokens: input.maxTokens }),
    ...(input.cacheSalt === undefined ? {} : { cache_salt: input.cacheSalt, cache_prompt: false }),
  };
}

/** O: the UTF-8 bytes of `text`, cut at `maxBytes`. */
export function outputBytes(text: string, maxBytes: number): Hex {
  return toHex(new TextEncoder().encode(text).subarray(0, maxBytes));
}

function hexBytes(hex: Hex): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}
