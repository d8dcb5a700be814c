import { describe, expect, it } from "vitest";
import { answerCapsFor } from "./answerCaps.js";

const MIB = 1024 * 1024;

describe("how much of a node's answer the gateway reads", () => {
  // Review 5 LOW-3: 8 KiB per unit let a node (pinned to by its colluding client) make the gateway buffer 64 MiB
  // per answer on a million-unit bound, for text that cannot take a hundredth of it.
  it("reads a plain answer to a few hundred bytes a unit, at most 16 MiB", () => {
    expect(answerCapsFor("chat", 1_000n).maxAnswerBytes).toBe(MIB + 256_000);
    expect(answerCapsFor("chat", 1_000_000n).maxAnswerBytes).toBe(16 * MIB);
    expect(answerCapsFor("chat", 1_000_000n, { stream: true }).streamLimits?.maxTotalBytes).toBe(16 * MIB);
    expect(answerCapsFor("chat", 1_000n, { stream: true }).streamLimits?.maxTotalBytes).toBe(MIB + 1_024_000);
  });

  it("leaves room for logprobs only where they are asked for, and embeddings the defaults", () => {
    expect(answerCapsFor("chat", 1_000n, { logprobs: true }).maxAnswerBytes).toBe(MIB + 8 * 1024 * 1_000);
    expect(answerCapsFor("chat", 1_000_000n, { logprobs: true }).maxAnswerBytes).toBe(64 * MIB);
    expect(answerCapsFor("embeddings", 1_000n)).toEqual({});
  });
});
