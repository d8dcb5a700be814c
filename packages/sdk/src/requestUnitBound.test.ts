import { canonicalJson } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_TOKENS, requestUnitBound } from "./requestUnitBound.js";

const bytes = (body: Record<string, unknown>) => BigInt(new TextEncoder().encode(canonicalJson(body)).length);

describe("the unit bound a client signs by default", () => {
  // Review 5 MEDIUM-2: a chat naming no max_tokens was signed with the rest of the stack as its bound, so a node
  // withholding its receipt could bill the whole stack for "hi" and answer any index challenge with that signature.
  it("bounds a chat that names no max_tokens at the default allowance, never the stack", () => {
    const body = { model: "m", messages: [{ role: "user", content: "hi" }] };
    expect(requestUnitBound(body)).toBe(bytes(body) + 1024n + BigInt(DEFAULT_MAX_TOKENS));
    expect(requestUnitBound(body)).toBeLessThan(4_000n);
  });

  it("takes the larger of max_tokens and max_completion_tokens, for each of n choices", () => {
    const body = { model: "m", prompt: "x", max_tokens: 10, max_completion_tokens: 20, n: 2 };
    expect(requestUnitBound(body)).toBe(bytes(body) + 1024n + 40n);
  });
});
