import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { InvalidApiKeyError } from "../errors.js";
import { bearerToken } from "../keys/apiKeySecret.js";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * A check that a request carries `Authorization: Bearer <token>` (`InvalidApiKeyError` otherwise). Compares
 * digests in constant time, so timing tells nothing about the token.
 */
export function bearerGate(token: string): (c: Context) => void {
  const expected = digest(token);
  return (c: Context) => {
    const given = bearerToken(c.req.header("authorization"));
    if (given === undefined || !timingSafeEqual(digest(given), expected))
      throw new InvalidApiKeyError("unknown");
  };
}
