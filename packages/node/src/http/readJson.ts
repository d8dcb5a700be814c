import type { Context } from "hono";
import { InvalidJsonError } from "../errors.js";

/**
 * The request body as a JSON object (the body limit has already bounded its size). Throws `InvalidJsonError`
 * for a wrong content type, malformed JSON, or anything but an object at the top.
 */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new InvalidJsonError("content-type must be application/json");
  const text = await c.req.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidJsonError("request body is not valid JSON", { cause });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidJsonError("request body must be a JSON object");
  return value as Record<string, unknown>;
}
