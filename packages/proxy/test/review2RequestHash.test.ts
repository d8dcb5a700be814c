import { requestHash } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { requestBound } from "../src/limits/requestBound.js";

/**
 * Review repro (fails today): the gateway signs and sends a body other than the client's (it adds `max_tokens`
 * when none is named, and strips `provider`), and tells the client nothing of it; the node's receipt covers the
 * gateway's body. `verifyResponse(answer, { request: body the client sent })` / `atoma verify --request` then
 * reports `request_hash_mismatch` on an honest answer, and without `--request` it reports "verified" for an answer
 * to any other request, so the client cannot bind the answer to its question at all.
 */
describe("review: a client can check its answer's request hash through the gateway", () => {
  it("the body the gateway signs hashes as the body the client sent (or the gateway returns it)", () => {
    const sent = { model: "tiny", messages: [{ role: "user", content: "hi" }] };
    const signed = requestBound("chat", sent, { defaultMaxTokens: 16, maxCompletionTokens: 64 }).body;
    expect(requestHash(signed)).toBe(requestHash(sent));
  });
});
