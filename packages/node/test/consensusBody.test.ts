import { deriveSeed } from "@atoma/core";
import { encodePacked, keccak256, stringToHex } from "viem";
import { describe, expect, it } from "vitest";
import { consensusChatBody, consensusSeed, outputBytes, promptText } from "../src/consensus/consensusBody.js";

const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

describe("the recomputation contract of smart-contract requests", () => {
  it("is one fixed chat body: greedy, the prompt as the user's message, a seed from contract and request id", () => {
    const seed = consensusSeed(CONTRACT, 7n);
    expect(seed).toBe(deriveSeed(keccak256(encodePacked(["address", "uint256"], [CONTRACT, 7n]))));
    expect(consensusSeed(CONTRACT, 8n)).not.toBe(seed);
    expect(
      consensusChatBody({ model: "atoma-tiny", prompt: stringToHex("Is 7 prime?"), seed, maxTokens: 24 }),
    ).toEqual({
      model: "atoma-tiny",
      messages: [{ role: "user", content: "Is 7 prime?" }],
      temperature: 0,
      top_p: 1,
      top_k: 40,
      min_p: 0,
      seed,
      max_tokens: 24,
    });
  });

  it("reads prompt bytes that are not UTF-8 the same way on every node", () => {
    expect(promptText("0x68ff69")).toBe("h\uFFFDi");
    expect(promptText("0x")).toBe("");
  });

  it("cuts the output at the contract's byte limit, even inside a character", () => {
    expect(outputBytes("héllo", 100)).toBe(stringToHex("héllo"));
    expect(outputBytes("héllo", 2)).toBe("0x68c3");
    expect(outputBytes("", 10)).toBe("0x");
  });
});
