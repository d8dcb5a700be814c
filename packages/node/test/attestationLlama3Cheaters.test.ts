import type { ChatCompletion, EmbeddedEngine } from "@atoma/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AttestNetwork,
  COLLATERAL,
  eventually,
  MODEL,
  PRICE,
  startAttestNetwork,
} from "./harness/attestNetwork.js";
import { reveal, serveAndSettle } from "./harness/servingNode.js";

const Phase = { Reveal: 2, Failed: 6 } as const;
const REQUESTS = 3;
const FRAUD_USER_SHARE = (COLLATERAL * 3_000n) / 10_000n;

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, days: { type: "integer" } },
      required: ["city", "days"],
      additionalProperties: false,
    },
  },
};
const toolCalls = () => ({ tools: [WEATHER_TOOL], tool_choice: "required", max_tokens: 300 });

/** The honest answer with its tool call's arguments swapped for others, just as well-formed. */
function fakedToolCall(response: ChatCompletion): ChatCompletion {
  const choice = response.choices[0]!;
  const call = choice.message.tool_calls?.[0];
  if (!call) throw new Error("the honest answer has no tool call to fake");
  const faked = { ...call, function: { ...call.function, arguments: '{"city": "Paris", "days": 3}' } };
  return { ...response, choices: [{ ...choice, message: { ...choice.message, tool_calls: [faked] } }] };
}

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

  const read = () => net.deployment.contracts;
  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(
      async () =>
        (await read().settlementManager.read.getSettlement([stackId])).phase === phase ? true : undefined,
      `phase ${phase}`,
    );
  const userBalance = () => read().vault.read.balanceOf([net.user.account.address]);

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
