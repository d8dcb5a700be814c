import { stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { ballotFromText, ballotToText } from "./actions/ballotText.js";
import { abstentionBallot, settlementBallotOf } from "./actions/voteDispute.js";

describe("ballot text", () => {
  it("keeps a settlement ballot's units (bigints) exact through storage", () => {
    const outputs = [
      { object: "chat.completion", usage: { prompt_tokens: 12, completion_tokens: 30 } },
      { object: "atoma.invalid_request" },
    ].map((result) => stringToHex(JSON.stringify(result)));
    const ballot = settlementBallotOf(7n, outputs);
    expect(ballot.units).toEqual([42n, 0n]);
    const text = ballotToText(ballot);
    expect(() => JSON.parse(text)).not.toThrow();
    const back = ballotFromText(text);
    expect(back).toEqual(ballot);
    expect(back.units.every((u) => typeof u === "bigint")).toBe(true);
  });

  it("round-trips an abstention and units beyond 2^53", () => {
    const abstention = abstentionBallot(3n);
    expect(ballotFromText(ballotToText(abstention))).toEqual(abstention);
    const big = { ...abstention, units: [2n ** 64n + 1n] };
    expect(ballotFromText(ballotToText(big)).units).toEqual([2n ** 64n + 1n]);
  });
});
