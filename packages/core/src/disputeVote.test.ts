import { concatHex, keccak256, numberToHex, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { consensusLeaf, consensusRoot } from "./consensusCommitment.js";
import {
  consensusShownOutput,
  disputeVoteCommitment,
  responseOutput,
  sampleClaim,
  UNAVAILABLE_CLAIM,
  voteWork,
  workPart,
} from "./disputeVote.js";
import { responseHash } from "./responseResult.js";

const response = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "atoma-tiny",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};

describe("dispute votes", () => {
  it("show as output the bytes whose hash is the response hash", () => {
    expect(keccak256(responseOutput(response))).toBe(responseHash(response));
  });

  it("bind the work to the node: the same outputs give another node other work", () => {
    const outputs = [stringToHex("a"), stringToHex("b")];
    const mine = voteWork(1n, outputs);
    const theirs = voteWork(2n, outputs);
    expect(mine.work).not.toBe(theirs.work);
    expect(mine.parts).toEqual(outputs.map((o) => workPart(1n, o)));
  });

  it("claim what the outputs hash to, and seal every field", () => {
    const respHashes = [keccak256(stringToHex("a")), keccak256(stringToHex("b"))];
    const claim = sampleClaim({ respHashes, units: [1n, 2n] });
    expect(claim).not.toBe(sampleClaim({ respHashes: [...respHashes].reverse(), units: [1n, 2n] }));
    expect(claim).not.toBe(sampleClaim({ respHashes, units: [1n, 3n] }));
    const { work } = voteWork(1n, [stringToHex("a"), stringToHex("b")]);
    const salt = keccak256(stringToHex("salt"));
    const sealed = disputeVoteCommitment(7n, 1n, claim, work, salt);
    expect(
      new Set([
        sealed,
        disputeVoteCommitment(8n, 1n, claim, work, salt),
        disputeVoteCommitment(7n, 2n, claim, work, salt),
        disputeVoteCommitment(7n, 1n, UNAVAILABLE_CLAIM, work, salt),
        disputeVoteCommitment(7n, 1n, claim, salt, salt),
        disputeVoteCommitment(7n, 1n, claim, work, work),
      ]).size,
    ).toBe(6);
  });

  it("show a consensus output with its units, so each leaf of the root is H(shown ‖ i)", () => {
    const output = stringToHex("yes");
    const shown = consensusShownOutput(output, 40n);
    const leaves = [1, 2, 3].map((i) => keccak256(concatHex([shown, numberToHex(i, { size: 32 })])));
    expect(leaves).toEqual([1, 2, 3].map((i) => consensusLeaf(output, 40n, i, 3)));
    expect(keccak256(concatHex(leaves))).toBe(consensusRoot(output, 40n, 3));
    expect(consensusShownOutput(output, 41n)).not.toBe(shown);
  });
});
