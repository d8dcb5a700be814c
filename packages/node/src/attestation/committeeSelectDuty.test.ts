import { abstentionBallot, settlementBallotOf } from "@atoma/chain";
import { toHex } from "viem";
import { describe, expect, it } from "vitest";
import { sitsWith } from "./committeeSelectDuty.js";

describe("a privately selected node takes its seat", () => {
  const output = toHex(
    JSON.stringify({ object: "chat.completion", usage: { prompt_tokens: 3, completion_tokens: 2 } }),
  );

  it("only with a vote it recomputed: never with an abstention (it could not recompute before the window ends)", () => {
    expect(sitsWith(abstentionBallot(7n))).toBe(false);
    expect(sitsWith(settlementBallotOf(7n, [output]))).toBe(true);
  });
});
