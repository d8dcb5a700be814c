import { signedResponseBody } from "@atoma/core";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The first place (`choices[0].message.refusal`) where `body` differs from `signed`, or undefined when they agree.
 * A field absent on one side and `null` on the other agrees (`refusal: null` tells a client nothing).
 */
function firstDifference(body: unknown, signed: unknown, path: string): string | undefined {
  if (Array.isArray(body) && Array.isArray(signed)) {
    if (body.length !== signed.length) return path;
    for (const [index, item] of body.entries()) {
      const found = firstDifference(item, signed[index], `${path}[${index}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (isRecord(body) && isRecord(signed)) {
    for (const key of new Set([...Object.keys(body), ...Object.keys(signed)])) {
      const [mine, theirs] = [body[key], signed[key]];
      if ((mine === null || mine === undefined) && (theirs === null || theirs === undefined)) continue;
      const found = firstDifference(mine, theirs, path === "" ? key : `${path}.${key}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  return Object.is(body, signed) ? undefined : path === "" ? "the body" : path;
}

/**
 * Where a response body (without `atoma` and `atoma_request`) carries something its response hash does not cover:
 * a field other than the hashed ones and the envelope (id, object, created, model, system_fingerprint), such as
 * a `refusal`, `function_call` or `reasoning_content` a relay added. Undefined when it carries only signed fields.
 * Throws as `signedResponseBody` does, for a body that is no complete OpenAI response.
 */
export function unsignedFieldOf(body: Record<string, unknown>): string | undefined {
  return firstDifference(body, signedResponseBody(body), "");
}
