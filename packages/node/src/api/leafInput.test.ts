import { requestHash, responseHash, type TranscriptEntry } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { LeafEncodingError } from "./errors.js";
import { type Answer, leafInput } from "./leafInput.js";

const body = { model: "tiny", prompt: "Once upon a time", max_tokens: 4 };
const request: TranscriptEntry = {
  body,
  nonce: "0",
  deadline: "99",
  max_units: "100",
  signature: `0x${"ab".repeat(65)}`,
};
const answer = (text: unknown): Answer =>
  ({
    object: "text_completion",
    model: "tiny",
    choices: [{ index: 0, text, finish_reason: "length" }],
    usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
  }) as unknown as Answer;

describe("leafInput", () => {
  it("hashes the response as every verifier does, and counts its units", () => {
    const leaf = leafInput(request, requestHash(body), answer(" there was"), 7);
    expect(leaf.respHash).toBe(responseHash(answer(" there was")));
    expect([leaf.units, leaf.seed]).toEqual([9n, 7n]);
  });

  it("refuses a request whose record does not hash to the signed request hash", () => {
    expect(() => leafInput(request, `0x${"00".repeat(32)}`, answer(" a"), 7)).toThrow(LeafEncodingError);
  });
});
