import { assertJsonDepth, MAX_REQUEST_DEPTH } from "@atoma/core";
import type { Context } from "hono";
import { InvalidJsonError } from "../errors.js";

/** Refuses malformed UTF-8 instead of replacing it: the node hashes and stores exactly what the client sent. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The request body as a JSON object (the body limit has already bounded its size). Throws `InvalidJsonError`
 * for a wrong content type, bytes that are not UTF-8, malformed JSON, or anything but an object at the top, and
 * `JsonTooDeepError` for nesting deeper than `MAX_REQUEST_DEPTH` (before anything recurses over it).
 */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new InvalidJsonError("content-type must be application/json");
  const bytes = await c.req.arrayBuffer();
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new InvalidJsonError("request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's message quotes the body around the fault: never pass it on (it would reach logs and clients).
    throw new InvalidJsonError("request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidJsonError("request body must be a JSON object");
  assertJsonDepth(value, MAX_REQUEST_DEPTH);
  return value as Record<string, unknown>;
}
