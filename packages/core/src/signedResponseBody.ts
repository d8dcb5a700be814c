import { type ReproducibleResult, reproducibleResult, SEALED_ANSWER_OBJECT } from "./responseResult.js";

type Json = Record<string, unknown>;

/** Envelope fields a client may see beside what the signature covers: names and numbers no replay checks. */
const ENVELOPE_FIELDS = ["id", "object", "created", "model", "system_fingerprint"] as const;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The envelope fields of `response` that are plain strings or numbers (anything else is left out). */
export function responseEnvelope(response: unknown): Json {
  const envelope: Json = {};
  if (!isRecord(response)) return envelope;
  for (const key of ENVELOPE_FIELDS) {
    const value = response[key];
    if (typeof value === "string" || (typeof value === "number" && Number.isFinite(value)))
      envelope[key] = value;
  }
  return envelope;
}

/** Whether a chat choice's message had `content: null` (a tool-call answer), which hashes as empty text. */
function contentWasNull(response: Json, position: number): boolean {
  const choices = response.choices as unknown[];
  const choice = choices[position] as Json;
  const message = (choice.message ?? choice.delta) as Json;
  return message.content === null || message.content === undefined;
}

/**
 * `response` as far as its response hash covers it: rebuilt from the hashed result (text, tool calls, finish
 * reasons, logprobs, usage) plus the harmless envelope fields (id, object, created, model, system_fingerprint).
 * Whatever else a node adds (`function_call`, `reasoning_content`, `refusal`, extra choice fields) is dropped, so
 * a client reads only what the node signed and an attester's replay checks. Its hash is `responseHash(response)`.
 * Throws `InvalidInputError` as `reproducibleResult` does.
 */
export function signedResponseBody(response: unknown): Json {
  const result: ReproducibleResult = reproducibleResult(response);
  if (result.object === SEALED_ANSWER_OBJECT) return { ...result };
  const envelope = responseEnvelope(response);
  if (result.object === "embedding")
    return {
      ...envelope,
      object: "list",
      model: result.model,
      data: result.data.map((item) => ({
        object: "embedding",
        index: item.index,
        embedding: item.embedding,
      })),
      usage: result.usage,
    };
  const original = response as Json;
  const choices = result.choices.map((choice, position) => {
    if (result.object === "text_completion")
      return {
        index: choice.index,
        text: choice.text,
        finish_reason: choice.finish_reason,
        logprobs: choice.logprobs ?? null,
      };
    const content = choice.text === "" && contentWasNull(original, position) ? null : choice.text;
    return {
      index: choice.index,
      message: {
        role: "assistant",
        content,
        ...(choice.tool_calls ? { tool_calls: choice.tool_calls } : {}),
      },
      finish_reason: choice.finish_reason,
      logprobs: choice.logprobs ? { ...choice.logprobs, refusal: null } : null,
    };
  });
  return { ...envelope, object: result.object, model: result.model, choices, usage: result.usage };
}
