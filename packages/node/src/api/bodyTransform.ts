import type { Context } from "hono";
import type { StackApi } from "./apiContext.js";
import type { RequestEnvelope } from "./envelope.js";

/**
 * A rewrite of a request's body before it is hashed, checked against the owner's signature and read: where a
 * confidential node decrypts a body. What it returns is what the owner must have signed. Throws an `AtomaError`
 * to refuse the request.
 */
export type BodyTransform = (
  body: Record<string, unknown>,
  context: { api: StackApi; envelope: RequestEnvelope; c: Context },
) => Promise<Record<string, unknown>>;

/** The body after each transform in turn (unchanged when there are none). */
export async function transformBody(
  transforms: readonly BodyTransform[],
  body: Record<string, unknown>,
  context: Parameters<BodyTransform>[1],
): Promise<Record<string, unknown>> {
  let transformed = body;
  for (const transform of transforms) transformed = await transform(transformed, context);
  return transformed;
}
