import { canonicalJson } from "@atoma/core";

/**
 * Room for a chat template's fixed text beyond the body's own bytes: begin/end tokens, and the instructions a
 * template wraps around tool definitions (a few hundred tokens in the common ones).
 */
const TEMPLATE_MARGIN = 1024n;
const encoder = new TextEncoder();

/**
 * The completion allowance signed for a chat or completion that names no `max_tokens` (the gateway's default too):
 * without it the bound would be the whole stack, which a node withholding its receipt could bill.
 */
export const DEFAULT_MAX_TOKENS = 1024;

/**
 * The default `maxUnits` a StackClient signs for a request: no tokenizer with byte fallback makes more tokens
 * than the UTF-8 bytes of the body's canonical JSON (which holds the prompt and every field a template renders),
 * plus a template margin, plus `max_tokens` (or `max_completion_tokens`, the larger) for each of `n` choices.
 * A chat or completion naming no limit is bounded at `DEFAULT_MAX_TOKENS` per choice (the node stops generating there).
 */
export function requestUnitBound(
  body: Record<string, unknown>,
  /** The body's length as signed in the clear (a sealed one's: its padded bucket, `sealedRequestSize`). */
  shownBytes: (bytes: number) => number = (bytes) => bytes,
): bigint {
  const prompt = BigInt(shownBytes(encoder.encode(canonicalJson(body)).length)) + TEMPLATE_MARGIN;
  // An embedding (input, no prompt or messages) generates nothing.
  if (body.input !== undefined && body.messages === undefined && body.prompt === undefined) return prompt;
  const limits = [body.max_tokens, body.max_completion_tokens].filter(
    (v): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0,
  );
  if (limits.length === 0) limits.push(DEFAULT_MAX_TOKENS);
  const choices = typeof body.n === "number" && Number.isSafeInteger(body.n) && body.n > 0 ? body.n : 1;
  return prompt + BigInt(Math.max(...limits)) * BigInt(choices);
}
