import { deriveSeed } from "@atoma/core";
import { encodePacked, keccak256, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdmissionGate } from "../src/admission/admissionGate.js";
import { type ConsensusJob, computeConsensusOutput } from "../src/consensus/computeConsensusOutput.js";
import { consensusChatBody, consensusSeed, outputBytes, promptText } from "../src/consensus/consensusBody.js";
import { startTinyEngine } from "../src/devnet/tinyEngine.js";

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

describe("a dispute recompute of a public prompt (docs/vrf.md, M2)", () => {
  let tiny: Awaited<ReturnType<typeof startTinyEngine>>;
  beforeAll(async () => {
    tiny = await startTinyEngine();
  }, 120_000);
  afterAll(() => tiny?.engine.stop());

  it("asks the engine for its own cache namespace, so a prober sending the on-chain prompt gets no cache hit", () => {
    const body = consensusChatBody({
      model: "m",
      prompt: stringToHex("Is 7 prime?"),
      seed: 1,
      cacheSalt: "ab12",
    });
    expect(body).toMatchObject({ cache_salt: "ab12", cache_prompt: false });
    expect(consensusChatBody({ model: "m", prompt: stringToHex("Is 7 prime?"), seed: 1 })).not.toHaveProperty(
      "cache_salt",
    );
  });

  it("gives the very output the nodes computed without the salt (the committee still agrees with honest nodes)", async () => {
    const job: ConsensusJob = {
      consensusRequests: CONTRACT,
      requestId: 3n,
      prompt: stringToHex("Is 7 prime?"),
      maxUnits: 64n,
      model: tiny.model.id,
      maxOutputTokens: 16,
      maxOutputBytes: 1024,
    };
    const components = {
      engine: tiny.engine,
      admission: new AdmissionGate({}, { maxConcurrent: 1, maxQueue: 4 }),
    };
    const served = await computeConsensusOutput(components, job);
    const recomputed = await computeConsensusOutput(components, { ...job, cacheSalt: "0f".repeat(16) });
    expect(recomputed).toEqual(served);
    expect(served.units).toBeGreaterThan(0n);
  }, 60_000);
});
