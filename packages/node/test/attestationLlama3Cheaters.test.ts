import type { EmbeddedEngine } from "@atoma/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, COLLATERAL, MODEL, PRICE, startAttestNetwork } from "./harness/attestNetwork.js";
import { reveal, serveAndSettle } from "./harness/servingNode.js";
import { fraudUserShare, settlementWatch } from "./helpers/settlementWatch.js";
import { fakedToolCall, toolCalls } from "./helpers/structuredAnswers.js";

const Phase = { Reveal: 2, Failed: 6 } as const;
const REQUESTS = 3;
const FRAUD_USER_SHARE = fraudUserShare(COLLATERAL);

/**
 * Issue 12, another chat template: on a model whose template renders the tools itself and whose calls are Llama 3's
 * JSON, an attester builds the same prompt and grammar from the same file, so honest calls are reproduced bit for
 * bit and a faked call is caught.
 */
describe("tool calls on a Llama-3-template model under attestation", () => {
  let net: AttestNetwork;

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 6,
      sampleSize: REQUESTS,
      parameters: { dispute: { minCommittee: 1 } },
      template: "llama3",
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const { read, whenPhase, userBalance } = settlementWatch(() => net);

  it("an honest server's calls are reproduced by its attesters: the stack is accepted", async () => {
    expect((net.engine as EmbeddedEngine).toolDialect(MODEL).name).toBe("llama3");
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, extraBody: toolCalls });
    await whenPhase(served.stackId, Phase.Reveal);
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
    expect(revealed.agreeing).toEqual(served.attesters);
  }, 120_000);

  it("a server that fakes a call (other arguments, as valid for the tool) is disputed and slashed", async () => {
    const served = await serveAndSettle(net, REQUESTS, {
      engine: net.engine,
      extraBody: toolCalls,
      fake: (k, response) => (k === 1 ? fakedToolCall(response) : undefined),
    });
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the faked call went unnoticed");
    expect(revealed.dissenting).toEqual(served.attesters);
    await whenPhase(served.stackId, Phase.Failed);
    const cheater = await read().nodeRegistry.read.getNode([served.server.nodeId]);
    expect(cheater).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    expect((await userBalance()) - before).toBe(PRICE + FRAUD_USER_SHARE);
  }, 120_000);
});
