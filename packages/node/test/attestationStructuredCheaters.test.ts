import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, COLLATERAL, PRICE, startAttestNetwork } from "./harness/attestNetwork.js";
import { reveal, type ServedStack, serveAndSettle } from "./harness/servingNode.js";
import { fraudUserShare, settlementWatch } from "./helpers/settlementWatch.js";
import { fakedJsonAnswer, fakedToolCall, jsonAnswers, toolCalls } from "./helpers/structuredAnswers.js";

const Phase = { Reveal: 2, Failed: 6 } as const;
const REQUESTS = 3;
const FRAUD_USER_SHARE = fraudUserShare(COLLATERAL);

/**
 * Issue 12: tool calls and JSON answers are grammar-constrained, and an attester's replay applies the same grammar,
 * so an honest server's answers are reproduced bit for bit and a faked one is caught like any tampered output.
 */
describe("tool calls and JSON answers under attestation", () => {
  let net: AttestNetwork;

  beforeAll(async () => {
    // Two cheaters are barred for good; a verified stack needs a server and three verifiers eligible.
    net = await startAttestNetwork({
      nodes: 8,
      sampleSize: REQUESTS,
      parameters: { dispute: { minCommittee: 1 } },
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const { read, whenPhase, userBalance } = settlementWatch(() => net);

  async function expectCaught(served: ServedStack, balanceBefore: bigint) {
    const cheater = await read().nodeRegistry.read.getNode([served.server.nodeId]);
    expect(cheater).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    expect((await userBalance()) - balanceBefore).toBe(PRICE + FRAUD_USER_SHARE);
  }

  it("an honest server's tool calls and JSON answers are reproduced by its attesters: the stack is accepted", async () => {
    const served = await serveAndSettle(net, REQUESTS, {
      engine: net.engine,
      extraBody: (k) => (k === 1 ? jsonAnswers() : toolCalls()),
    });
    await whenPhase(served.stackId, Phase.Reveal);
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
    expect(revealed.agreeing).toEqual(served.attesters);
  }, 120_000);

  it.each([
    ["a tool call (other arguments, as valid for the tool)", toolCalls, fakedToolCall],
    ["a JSON answer (another document valid for the schema)", jsonAnswers, fakedJsonAnswer],
  ] as const)(
    "a server that fakes %s is disputed and slashed",
    async (_, extraBody, fake) => {
      const served = await serveAndSettle(net, REQUESTS, {
        engine: net.engine,
        extraBody,
        fake: (k, response) => (k === 1 ? fake(response) : undefined),
      });
      await whenPhase(served.stackId, Phase.Reveal);
      const before = await userBalance();
      const revealed = await reveal(served, served.indices);
      if (revealed.outcome !== "disputed") throw new Error("the faked answer went unnoticed");
      expect(revealed.dissenting).toEqual(served.attesters);
      await whenPhase(served.stackId, Phase.Failed);
      await expectCaught(served, before);
    },
    120_000,
  );
});
