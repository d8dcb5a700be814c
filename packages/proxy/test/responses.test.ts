import { InvalidInputError } from "@atoma/core";
import type { Hono } from "hono";
import OpenAI, { BadRequestError, NotFoundError } from "openai";
import { beforeAll, describe, expect, it } from "vitest";
import { NodeFailedError } from "../src/errors.js";
import type { UpstreamAnswer, UpstreamRequest } from "../src/gateway/upstream.js";
import { FakeUpstream } from "./helpers/fakeUpstream.js";
import { testDatabases } from "./helpers/testDatabases.js";
import { suiteGateway } from "./helpers/testGateway.js";

const embedded = testDatabases()[0]!;

/** The official client, its requests answered by the gateway's app in this process. */
const clientOf = (app: Hono, apiKey: string) =>
  new OpenAI({
    apiKey,
    baseURL: "http://gateway.test/v1",
    maxRetries: 0,
    fetch: (url: string | URL | Request, init?: RequestInit) =>
      Promise.resolve(app.fetch(new Request(url, init))),
  });

/** Answers with a tool call when the request names tools, streamed as OpenAI streams `function.arguments`. */
class ToolUpstream extends FakeUpstream {
  override async send(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const body = request.body as { tools?: unknown[]; response_format?: { type: string } };
    if (body.response_format?.type === "json_schema")
      throw new InvalidInputError("response_format json_schema is not supported by this node");
    const answer = await super.send(request);
    if (!body.tools) return answer;
    const call = {
      id: "call_1",
      type: "function",
      function: { name: "weather", arguments: '{"city":"Paris"}' },
    };
    if (request.stream) {
      const chunk = (delta: unknown) =>
        request.onChunk?.(
          {
            id: "x",
            object: "chat.completion.chunk",
            created: 1,
            model: request.model,
            choices: [{ index: 0, delta }],
          },
          7n,
        );
      chunk({ tool_calls: [{ index: 0, ...call, function: { name: "weather", arguments: "" } }] });
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] });
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] });
    }
    const choice = {
      index: 0,
      message: { role: "assistant", content: null, tool_calls: [call] },
      finish_reason: "tool_calls",
    };
    return { ...answer, response: { ...answer.response, choices: [choice] } };
  }
}

describe("the Responses API over the gateway, with the official openai client", () => {
  const gw = suiteGateway(embedded.make);
  let client: OpenAI;
  let key: string;

  beforeAll(async () => {
    key = (await gw.keys.create({ name: "responses", budget: "1" })).key;
    client = clientOf(gw.app, key);
  });

  it("maps instructions, input and max_output_tokens onto a chat request, and answers a response with the receipt", async () => {
    gw.upstream.behaviour = () => ({ units: 12 });
    const { data: response, response: raw } = await client.responses
      .create({ model: "tiny", instructions: "Be brief.", input: "Hello", max_output_tokens: 16 })
      .withResponse();
    expect(raw.headers.get("x-atoma-node")).toBe("7");
    const sent = gw.upstream.sent.at(-1)!;
    expect(sent.endpoint).toBe("chat");
    expect(sent.body).toMatchObject({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hello" },
      ],
      max_tokens: 16,
    });
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("hi");
    expect(response.usage).toMatchObject({ input_tokens: 1, output_tokens: 11, total_tokens: 12 });
    expect((response as unknown as { atoma: { node_id: string; units: string } }).atoma).toMatchObject({
      node_id: "7",
      units: "12",
    });
  });

  it("takes input as message items, with text parts and developer messages", async () => {
    await client.responses.create({
      model: "tiny",
      input: [
        { role: "developer", content: "Answer in French." },
        { role: "user", content: [{ type: "input_text", text: "Bonjour" }] },
        { type: "message", role: "assistant", content: "Salut" },
        { role: "user", content: "Encore" },
      ],
    });
    expect(gw.upstream.sent.at(-1)!.body).toMatchObject({
      messages: [
        { role: "system", content: "Answer in French." },
        { role: "user", content: "Bonjour" },
        { role: "assistant", content: "Salut" },
        { role: "user", content: "Encore" },
      ],
    });
  });

  it("streams the Responses event types, ending with the completed response and the receipt", async () => {
    gw.upstream.behaviour = () => ({ chunks: 3, units: 9 });
    const stream = await client.responses.create({ model: "tiny", input: "Hello", stream: true });
    const types: string[] = [];
    let text = "";
    let completed: Record<string, unknown> | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed")
        completed = event.response as unknown as Record<string, unknown>;
    }
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    expect(text).toBe("w0 w1 w2 ");
    expect(completed).toMatchObject({
      status: "completed",
      usage: { output_tokens: 8, total_tokens: 9 },
      atoma: { node_id: "7", units: "9" },
    });
  });

  it("ends a stream that fails after its first chunk with an error event, never a hang", async () => {
    gw.upstream.behaviour = () => ({ chunks: 2, fail: new NodeFailedError("node 7 failed the request") });
    const response = await gw.app.request("/v1/responses", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "tiny", input: "Hello", stream: true }),
    });
    expect(response.status).toBe(200);
    const events = (await response.text()).trim().split("\n\n");
    expect(events.at(-1)).toMatch(/^event: error\ndata: /);
    expect(JSON.parse(events.at(-1)!.split("data: ")[1]!)).toMatchObject({
      type: "error",
      code: "node_failed",
      message: "node 7 failed the request",
    });
  });

  it("passes the gateway's refusals through, OpenAI-shaped", async () => {
    await expect(client.responses.create({ model: "no-such-model", input: "Hi" })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    const bad = client.responses.create({ model: "tiny", input: "Hi", previous_response_id: "resp_1" });
    await expect(bad).rejects.toBeInstanceOf(BadRequestError);
    const unauthenticated = clientOf(gw.app, "sk-atoma-wrong");
    await expect(unauthenticated.responses.create({ model: "tiny", input: "Hi" })).rejects.toMatchObject({
      status: 401,
      code: "invalid_api_key",
    });
  });
});

describe("tools and structured output in the Responses API", () => {
  const gw = suiteGateway(embedded.make);
  let client: OpenAI;
  const tools = [
    {
      type: "function" as const,
      name: "weather",
      description: "the weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      strict: true,
    },
  ];

  beforeAll(async () => {
    const upstream = new ToolUpstream();
    // The app reads its upstream from `parts` per request.
    gw.parts.upstream = upstream;
    Object.assign(gw, { upstream });
    const { key } = await gw.keys.create({ name: "tools", budget: "1" });
    client = clientOf(gw.app, key);
  });

  it("forwards function tools and tool_choice in chat's shape, and answers function_call items", async () => {
    const response = await client.responses.create({
      model: "tiny",
      input: "Weather in Paris?",
      tools,
      tool_choice: { type: "function", name: "weather" },
    });
    expect(gw.upstream.sent.at(-1)!.body).toMatchObject({
      tools: [
        { type: "function", function: { name: "weather", parameters: tools[0]!.parameters, strict: true } },
      ],
      tool_choice: { type: "function", function: { name: "weather" } },
    });
    const call = response.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ call_id: "call_1", name: "weather", arguments: '{"city":"Paris"}' });
  });

  it("streams function call arguments as deltas", async () => {
    const stream = await client.responses.create({ model: "tiny", input: "Weather?", tools, stream: true });
    let args = "";
    let done: string | undefined;
    for await (const event of stream) {
      if (event.type === "response.function_call_arguments.delta") args += event.delta;
      if (event.type === "response.function_call_arguments.done") done = event.arguments;
    }
    expect(args).toBe('{"city":"Paris"}');
    expect(done).toBe(args);
  });

  it("sends a function call and its output back as the follow-up turn chat expects", async () => {
    await client.responses.create({
      model: "tiny",
      input: [
        { role: "user", content: "Weather?" },
        { type: "function_call", call_id: "call_1", name: "weather", arguments: '{"city":"Paris"}' },
        { type: "function_call_output", call_id: "call_1", output: "sunny" },
      ],
    });
    expect(gw.upstream.sent.at(-1)!.body).toMatchObject({
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "call_1", type: "function", function: { name: "weather" } }],
        },
        { role: "tool", tool_call_id: "call_1", content: "sunny" },
      ],
    });
  });

  it("forwards text.format as response_format, and passes a node's 400 for it through", async () => {
    await client.responses.create({
      model: "tiny",
      input: "JSON please",
      text: { format: { type: "json_object" } },
    });
    expect(gw.upstream.sent.at(-1)!.body).toMatchObject({ response_format: { type: "json_object" } });
    const schema = { type: "object", properties: { a: { type: "number" } }, required: ["a"] };
    const refused = client.responses.create({
      model: "tiny",
      input: "JSON please",
      text: { format: { type: "json_schema", name: "thing", schema, strict: true } },
    });
    await expect(refused).rejects.toMatchObject({ status: 400, code: "invalid_input" });
  });
});
