import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { responseHash } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import type { StackClient } from "@atoma/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recomputeSample } from "../src/attestation/recompute.js";
import { apiNode, startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { stackClientFor } from "./helpers/stackClientFor.js";
import { type RegisteredNode, type StackNetwork, startStackNetwork } from "./helpers/stackNetwork.js";

type Json = Record<string, unknown>;
type Call = { id: string; type: string; function: { name: string; arguments: string } };
type Choice = { message: { content: string | null; tool_calls?: Call[] }; finish_reason: string };

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 10 }, days: { type: "integer" } },
      required: ["city", "days"],
    },
  },
};

/** Issue 12 through the node's API: tool calls and JSON answers signed, streamed and verified by the SDK. */
describe("stack API: tool calls, JSON answers, usage in the last chunk", () => {
  const root = mkdtempSync(join(tmpdir(), "atoma-api-tools-"));
  let network: StackNetwork;
  let engine: EmbeddedEngine;
  let model: TinyModelFile;
  let nodes: RegisteredNode[];
  let node: AtomaNode;
  let client: StackClient;

  beforeAll(async () => {
    network = await startStackNetwork();
    nodes = await network.registerNodes(1);
    const taskId = await network.newTask([nodes[0]!]);
    await network.nextEpoch();
    // A tool's definition is written into the prompt: the tiny model spells it a character a token.
    ({ engine, model } = await startTinyEngine({ contextSize: 2048 }));
    node = apiNode({
      network,
      node: nodes[0]!,
      engine,
      model,
      dataDir: join(root, "node"),
      limits: { maxPromptTokens: 1_500, maxBodyBytes: 16_384 },
    }).node;
    await node.start();
    const owner = await network.owner();
    const { stackId } = await network.buy(owner.ctx, taskId, 1_000_000n);
    await waitForStack(node, stackId);
    client = stackClientFor(network, nodes[0]!, node, owner.account, stackId);
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
    await engine?.stop();
    await network?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const chat = (extra: Json) => ({
    model: model.id,
    messages: [{ role: "user", content: "Weather in Paris?" }],
    max_tokens: 300,
    ...extra,
  });
  const choiceOf = (response: Json) => (response.choices as Choice[])[0]!;

  it("answers a tool call with a verified receipt, streamed or not, the stream adding up to the same calls", async () => {
    const body = chat({ tools: [WEATHER], tool_choice: "required", seed: 3 });
    const plain = await client.chat(body);
    expect(choiceOf(plain.response)).toMatchObject({
      finish_reason: "tool_calls",
      message: { content: null },
    });
    const calls = choiceOf(plain.response).message.tool_calls!;
    expect(calls[0]).toMatchObject({ type: "function", function: { name: "get_weather" } });
    expect(Object.keys(JSON.parse(calls[0]!.function.arguments))).toEqual(["city", "days"]);
    const chunks: Json[] = [];
    const streamed = await client.chatStream({ ...body, stream: true }, (chunk) => chunks.push(chunk));
    const deltas = chunks.flatMap((chunk) => (chunk.choices as { delta: Json }[])[0]?.delta.tool_calls ?? []);
    expect(deltas.length).toBeGreaterThan(1);
    // The same calls (the seed is the request's); their ids are the streamed request's own.
    const streamedCalls = choiceOf(streamed.response).message.tool_calls!;
    expect(streamedCalls.map((call) => call.function)).toEqual(calls.map((call) => call.function));
    expect(streamedCalls[0]!.id).not.toBe(calls[0]!.id);
  });

  it("answers a resent streamed tool call from its records, as one chunk that adds up to the same calls", async () => {
    const signed = await client.sign(
      chat({ tools: [WEATHER], tool_choice: "required", seed: 5, stream: true }),
    );
    const first = await client.sendStream("/v1/chat/completions", signed);
    const chunks: Json[] = [];
    const again = await client.sendStream("/v1/chat/completions", signed, (chunk) => chunks.push(chunk));
    expect(chunks).toHaveLength(1);
    expect(again.atoma).toEqual(first.atoma);
    expect(choiceOf(again.response).message.tool_calls).toEqual(choiceOf(first.response).message.tool_calls);
  });

  it("signs logprobs: streamed, resent and replayed by an attester, they hash as the node signed them", async () => {
    type Logprobs = { content: { logprob: number }[] } | null;
    for (const body of [
      chat({ logprobs: true, top_logprobs: 2, max_tokens: 12, seed: 7, stream: true }),
      chat({
        logprobs: true,
        top_logprobs: 2,
        seed: 7,
        tools: [WEATHER],
        tool_choice: "required",
        stream: true,
      }),
      { model: model.id, prompt: "Once upon", logprobs: 2, max_tokens: 8, seed: 7, stream: true },
      { model: model.id, prompt: "Once upon", logprobs: 2, max_tokens: 8, seed: 7 },
    ] as Json[]) {
      const path = "prompt" in body ? "/v1/completions" : "/v1/chat/completions";
      const signed = await client.sign(body);
      const relayed: Json[] = [];
      const served =
        body.stream === true
          ? await client.sendStream(path, signed, (chunk) => relayed.push(chunk))
          : await client.send(path, signed);
      const logprobs = (served.response.choices as { logprobs: Logprobs }[])[0]!.logprobs;
      expect(logprobs).not.toBeNull();
      // The receipt covers them: the hash of what the client got is the one the node signed.
      expect(responseHash(served.response)).toBe(served.fields.respHash);
      if (body.stream === true) {
        // A resend is answered from the records, logprobs included.
        const again = await client.sendStream(path, signed);
        expect(again.atoma).toEqual(served.atoma);
      }
      // An attester's replay reproduces them (a faked logprob would not match).
      const replayed = await recomputeSample(engine, [JSON.parse(signed.json)]);
      expect(replayed.respHashes[0]).toBe(served.fields.respHash);
    }
  });

  it("answers JSON of the schema, and sends the usage once, in the final chunk with the receipt", async () => {
    const schema = { type: "object", properties: { ok: { type: "boolean" } }, required: ["ok"] };
    const signed = await client.sign(
      chat({
        response_format: { type: "json_schema", json_schema: { name: "ok", schema, strict: true } },
        stream: true,
        stream_options: { include_usage: true },
        seed: 1,
      }),
    );
    const answer = await fetch(new URL("/v1/chat/completions", node.url), {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
    });
    const events = (await answer.text())
      .split("\n\n")
      .filter((event) => event.startsWith("data: "))
      .map((event) => event.slice("data: ".length));
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event) as Json);
    const content = chunks
      .map((chunk) => (chunk.choices as { delta?: Json }[])[0]?.delta?.content ?? "")
      .join("");
    expect(typeof JSON.parse(content).ok).toBe("boolean");
    const withUsage = chunks.filter((chunk) => chunk.usage);
    expect(withUsage).toEqual([chunks.at(-1)]);
    expect(withUsage[0]).toMatchObject({ choices: [], atoma: expect.any(Object) });
  });

  it("refuses a bad tool definition or an unsatisfiable schema with 400 and the field at fault", async () => {
    for (const [extra, param] of [
      [{ tools: [WEATHER, WEATHER] }, "tools.1.function.name"],
      [
        { response_format: { type: "json_schema", json_schema: { name: "x", schema: { enum: [] } } } },
        "response_format.json_schema.schema.enum",
      ],
    ] as const) {
      const signed = await client.sign(chat(extra));
      const answer = await fetch(new URL("/v1/chat/completions", node.url), {
        method: "POST",
        headers: { "content-type": "application/json", ...signed.headers },
        body: signed.json,
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: Json }).error).toMatchObject({
        code: "invalid_input",
        param,
      });
    }
  });
});
