import { assertJsonDepth, MAX_REQUEST_DEPTH } from "@atoma/core";
import type { Context } from "hono";
import { InvalidJsonError } from "../errors.js";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The body as a JSON object. Refuses a wrong content type, bytes that are not UTF-8 (never replaced: the request
 * is signed as sent), malformed JSON (without quoting it back), a non-object, and nesting past the bound.
 */
export async function readJsonBody(c: Context): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(c.req.header("content-type") ?? ""))
    throw new InvalidJsonError("content-type must be application/json");
  let text: string;
  try {
    text = strictUtf8.decode(await c.req.arrayBuffer());
  } catch {
    throw new InvalidJsonError("the body is not valid UTF-8");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidJsonError("the body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new InvalidJsonError("the body must be a JSON object");
  assertJsonDepth(parsed, MAX_REQUEST_DEPTH);
  return parsed as Record<string, unknown>;
}
