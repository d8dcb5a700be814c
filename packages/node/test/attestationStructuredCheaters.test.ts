import type { ChatCompletion } from "@atoma/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AttestNetwork,
  COLLATERAL,
  eventually,
  PRICE,
  startAttestNetwork,
} from "./harness/attestNetwork.js";
import { reveal, type ServedStack, serveAndSettle } from "./harness/servingNode.js";

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

const ANSWER_SCHEMA = {
  type: "object",
  properties: { answer: { type: "string", maxLength: 12 }, sure: { type: "boolean" } },
  required: ["answer", "sure"],
  additionalProperties: false,
};
const jsonAnswers = () => ({
  response_format: {
    type: "json_schema",
    json_schema: { name: "answer", schema: ANSWER_SCHEMA, strict: true },
  },
  max_tokens: 300,
});

/** The honest answer with its tool call's arguments swapped for others, just as well-formed. */
function fakedToolCall(response: ChatCompletion): ChatCompletion {
  const choice = response.choices[0]!;
  const call = choice.message.tool_calls?.[0];
  if (!call) throw new Error("the honest answer has no tool call to fake");
  const faked = { ...call, function: { ...call.function, arguments: '{"city": "Paris", "days": 3}' } };
  return { ...response, choices: [{ ...choice, message: { ...choice.message, tool_calls: [faked] } }] };
}

/** The honest answer with its JSON swapped for another document that validates against the same schema. */
function fakedJsonAnswer(response: ChatCompletion): ChatCompletion {
  const choice = response.choices[0]!;
  JSON.parse(choice.message.content ?? ""); // the honest answer is JSON
  const content = '{"answer": "forty-two", "sure": true}';
  return { ...response, choices: [{ ...choice, message: { ...choice.message, content } }] };
}

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

  const read = () => net.deployment.contracts;
  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(
      async () =>
        (await read().settlementManager.read.getSettlement([stackId])).phase === phase ? true : undefined,
      `phase ${phase}`,
    );
  const userBalance = () => read().vault.read.balanceOf([net.user.account.address]);

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
