import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAtomaPublicClient, findOwnedStacks, getNode } from "@atoma/chain";
import { atomaDomain, costOfUnits } from "@atoma/core";
import { StreamAssembler, verifyReceipt } from "@atoma/sdk";
import OpenAI, { AuthenticationError, BadRequestError, NotFoundError, RateLimitError } from "openai";
import { type Address, formatEther, parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli, runCliToEnd, waitForReady } from "./cliProcess.js";

interface Ready {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  model: string;
  nodes: { id: string; url: string; price: string }[];
}

type Receipt = Record<string, string>;

/** anvil's third well-known dev account (a public key): `atoma dev` gives it TOMA; the gateway's wallet here. */
const GATEWAY_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const ADMIN_TOKEN = "an-admin-token-for-this-test-only-0123456789";

describe("atoma proxy start: any OpenAI client on a local network", () => {
  const dir = mkdtempSync(join(tmpdir(), "atoma-cli-proxy-"));
  const networkFile = join(dir, "network.json");
  const settingsFile = join(dir, "settings.json");
  const where = ["--data-dir", join(dir, "proxy")];
  let dev: CliRun;
  let gateway: CliRun;
  let ready: Ready;
  let baseURL: string;
  let key: { id: string; key: string };
  let poor: { id: string; key: string };
  /** What the key should have been charged: each receipt's units at its node's price. */
  let charged = 0n;

  const track = (atoma: Receipt) => {
    const node = ready.nodes.find((n) => n.id === atoma.node_id);
    if (!node) throw new Error(`a receipt from unknown node ${atoma.node_id}`);
    charged += costOfUnits(BigInt(atoma.units!), parseEther(node.price));
  };

  const client = (apiKey = key.key) => new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 60_000 });
  const chain = () => ({
    publicClient: createAtomaPublicClient({ rpcUrl: ready.rpcUrl, chainId: ready.chainId }),
    addresses: ready.contracts as never,
  });

  /** The client checks the node's signature on what it received, trusting nothing the gateway says. */
  async function expectSignedByNode(response: Record<string, unknown>, atoma: Receipt, nodeId: string) {
    const node = await getNode(chain(), BigInt(nodeId));
    const verified = await verifyReceipt(response, atoma, {
      domain: atomaDomain(ready.chainId, ready.contracts.StackManager!),
      nodeSigner: node.signer,
      stackId: BigInt(atoma.stack_id!),
      reqHash: atoma.request_hash as `0x${string}`,
      nodeId: BigInt(nodeId),
    });
    expect(verified.fields.units).toBeGreaterThan(0n);
  }

  beforeAll(async () => {
    dev = runCli(["dev", "--nodes", "3", "--log-level", "warn"]);
    ready = await waitForReady<Ready>(dev, 240_000);
    writeFileSync(networkFile, JSON.stringify(ready));
    writeFileSync(
      settingsFile,
      JSON.stringify({ routing: { cutLimit: 4, cutWindowMs: 300_000, deadlineSeconds: 240 } }),
    );
    const made = await runCliToEnd(["proxy", "keys", "create", ...where, "--name", "e2e", "--budget", "100"]);
    expect(made.code, made.stderr).toBe(0);
    key = JSON.parse(made.stdout) as typeof key;
    const small = await runCliToEnd([
      "proxy",
      "keys",
      "create",
      ...where,
      "--name",
      "poor",
      "--budget",
      "0.000001",
    ]);
    poor = JSON.parse(small.stdout) as typeof poor;
    gateway = runCli(
      [
        ...["proxy", "start", "--network", networkFile, ...where, "--port", "0", "--allow-private-node-urls"],
        ...["--max-price", "10", "--stack-units", "200000", "--stacks-per-model", "4", "--log-level", "warn"],
        ...["--settings", settingsFile],
      ],
      { ATOMA_PRIVATE_KEY: GATEWAY_KEY, ATOMA_PROXY_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    baseURL = `${(await waitForReady<{ url: string }>(gateway, 120_000)).url}/v1`;
  }, 400_000);

  afterAll(async () => {
    for (const run of [gateway, dev]) {
      if (!run) continue;
      run.child.kill("SIGINT");
      await run.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("lists the network's model with its nodes and prices", async () => {
    const models = await client().models.list();
    const tiny = models.data.find((model) => model.id === ready.model) as unknown as {
      atoma: { nodes: string[]; price_per_million_units: { cheapest: string; median: string } };
    };
    expect(tiny).toBeDefined();
    expect([...tiny.atoma.nodes].sort()).toEqual(ready.nodes.map((node) => node.id).sort());
    expect(tiny.atoma.price_per_million_units).toEqual({ cheapest: "1", median: "2" });
  });

  it("answers a chat with the node's receipt passed through, which the client verifies itself", async () => {
    const { data, response } = await client()
      .chat.completions.create({
        model: ready.model,
        messages: [{ role: "user", content: "Hello" }],
        max_tokens: 8,
      })
      .withResponse();
    expect(typeof data.choices[0]?.message.content).toBe("string");
    const nodeId = response.headers.get("x-atoma-node")!;
    expect(ready.nodes.map((node) => node.id)).toContain(nodeId);
    const { atoma, ...body } = data as unknown as Record<string, unknown> & { atoma: Receipt };
    expect(atoma.node_id).toBe(nodeId);
    await expectSignedByNode(body, atoma, nodeId);
    track(atoma);
  }, 120_000);

  it("streams a chat, ending with the usage and the node's receipt", async () => {
    const { data: stream, response } = await client()
      .chat.completions.create({
        model: ready.model,
        messages: [{ role: "user", content: "Tell me more" }],
        max_tokens: 12,
        stream: true,
      })
      .withResponse();
    const assembler = new StreamAssembler();
    let text = "";
    let atoma: Receipt | undefined;
    for await (const chunk of stream) {
      const raw = chunk as unknown as Record<string, unknown>;
      assembler.add(raw);
      text += chunk.choices[0]?.delta?.content ?? "";
      if (raw.atoma) atoma = raw.atoma as Receipt;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(atoma).toBeDefined();
    expect(atoma!.node_id).toBe(response.headers.get("x-atoma-node"));
    await expectSignedByNode(assembler.response(), atoma!, atoma!.node_id!);
    track(atoma!);
  }, 120_000);

  // Review of issue 12, MEDIUM-3: tools and structured output through the gateway to real nodes, with the official
  // client and its helpers (chat and Responses), each answer's receipt verified or charged as the others.
  const weather = {
    type: "function" as const,
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string", maxLength: 12 } },
        required: ["city"],
        additionalProperties: false,
      },
      strict: true,
    },
  };
  const citySchema = {
    type: "object",
    properties: { city: { type: "string", maxLength: 12 }, sunny: { type: "boolean" } },
    required: ["city", "sunny"],
    additionalProperties: false,
  };

  it("calls a tool when told to (required), with arguments that parse, under a verified receipt", async () => {
    const { data, response } = await client()
      .chat.completions.create({
        model: ready.model,
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [weather],
        tool_choice: "required",
        max_tokens: 200,
      })
      .withResponse();
    const choice = data.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls?.[0] as { function: { name: string; arguments: string } };
    expect(call.function.name).toBe("get_weather");
    expect(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city).toBe("string");
    const { atoma, ...body } = data as unknown as Record<string, unknown> & { atoma: Receipt };
    await expectSignedByNode(body, atoma, response.headers.get("x-atoma-node")!);
    track(atoma);
  }, 120_000);

  it("streams a named tool's call as argument deltas the client's stream helper puts together", async () => {
    const assembler = new StreamAssembler();
    let atoma: Receipt | undefined;
    const stream = client()
      .chat.completions.stream({
        model: ready.model,
        messages: [{ role: "user", content: "Weather in Oslo?" }],
        tools: [weather],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        max_tokens: 200,
      })
      .on("chunk", (chunk) => {
        const raw = chunk as unknown as Record<string, unknown>;
        assembler.add(raw);
        if (raw.atoma) atoma = raw.atoma as Receipt;
      });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0] as {
      function: { name: string; arguments: string; parsed_arguments?: unknown };
    };
    expect(call.function.name).toBe("get_weather");
    expect(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city).toBe("string");
    expect(call.function.parsed_arguments).toMatchObject({ city: expect.any(String) });
    expect(atoma).toBeDefined();
    await expectSignedByNode(assembler.response(), atoma!, atoma!.node_id!);
    track(atoma!);
  }, 120_000);

  it("answers a strict json_schema with JSON that fits it, and the parse helper reads it", async () => {
    const response_format = {
      type: "json_schema" as const,
      json_schema: { name: "city_weather", strict: true, schema: citySchema },
    };
    const { data, response } = await client()
      .chat.completions.create({
        model: ready.model,
        messages: [{ role: "user", content: "Describe Rome as JSON" }],
        response_format,
        max_tokens: 200,
      })
      .withResponse();
    const answer = JSON.parse(data.choices[0]!.message.content!) as { city: unknown; sunny: unknown };
    expect(typeof answer.city).toBe("string");
    expect(typeof answer.sunny).toBe("boolean");
    const { atoma, ...body } = data as unknown as Record<string, unknown> & { atoma: Receipt };
    await expectSignedByNode(body, atoma, response.headers.get("x-atoma-node")!);
    track(atoma);
    const parsed = await client().chat.completions.parse({
      model: ready.model,
      messages: [{ role: "user", content: "Describe Lima as JSON" }],
      response_format,
      max_tokens: 200,
    });
    expect(parsed.choices[0]?.message.parsed).toMatchObject({
      city: expect.any(String),
      sunny: expect.any(Boolean),
    });
    track((parsed as unknown as { atoma: Receipt }).atoma);
  }, 120_000);

  it("serves the Responses API's streamed function calls and its parse helper's json_schema", async () => {
    const stream = await client().responses.create({
      model: ready.model,
      input: "Weather in Cairo?",
      tools: [
        { type: "function", name: "get_weather", parameters: weather.function.parameters, strict: true },
      ],
      tool_choice: "required",
      max_output_tokens: 200,
      stream: true,
    });
    let argumentDeltas = "";
    let completed: Record<string, unknown> | undefined;
    for await (const event of stream) {
      if (event.type === "response.function_call_arguments.delta") argumentDeltas += event.delta;
      if (event.type === "response.completed")
        completed = event.response as unknown as Record<string, unknown>;
    }
    const output = (completed?.output ?? []) as { type: string; name?: string; arguments?: string }[];
    const call = output.find((item) => item.type === "function_call");
    expect(call?.name).toBe("get_weather");
    expect(call?.arguments).toBe(argumentDeltas);
    expect(typeof (JSON.parse(call!.arguments!) as { city: unknown }).city).toBe("string");
    track(completed!.atoma as Receipt);
    const parsed = await client().responses.parse({
      model: ready.model,
      input: "Describe Quito as JSON",
      text: { format: { type: "json_schema", name: "city_weather", strict: true, schema: citySchema } },
      max_output_tokens: 200,
    });
    expect(parsed.output_parsed).toMatchObject({ city: expect.any(String), sunny: expect.any(Boolean) });
    track((parsed as unknown as { atoma: Receipt }).atoma);
  }, 120_000);

  it("serves completions, streamed and not, and embeddings", async () => {
    const completion = await client().completions.create({
      model: ready.model,
      prompt: "Once",
      max_tokens: 6,
    });
    expect(typeof completion.choices[0]?.text).toBe("string");
    track((completion as unknown as { atoma: Receipt }).atoma);
    const stream = await client().completions.create({
      model: ready.model,
      prompt: "Upon",
      max_tokens: 6,
      stream: true,
    });
    let pieces = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.text) pieces++;
      const atoma = (chunk as unknown as { atoma?: Receipt }).atoma;
      if (atoma) track(atoma);
    }
    expect(pieces).toBeGreaterThan(0);
    const embedded = await client().embeddings.create({ model: ready.model, input: ["a cat", "a dog"] });
    expect(embedded.data).toHaveLength(2);
    expect(embedded.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(Number.isFinite(embedded.data[0]?.embedding[0])).toBe(true);
    track((embedded as unknown as { atoma: Receipt }).atoma);
  }, 120_000);

  it("serves requests at once on several stacks, bought with the gateway's wallet and recorded", async () => {
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        client().chat.completions.create({
          model: ready.model,
          messages: [{ role: "user", content: `Question ${i}` }],
          max_tokens: 6,
        }),
      ),
    );
    expect(answers.every((answer) => typeof answer.choices[0]?.message.content === "string")).toBe(true);
    for (const answer of answers) track((answer as unknown as { atoma: Receipt }).atoma);
    const owner = privateKeyToAccount(GATEWAY_KEY).address;
    const stacks = await findOwnedStacks(chain(), { owner });
    expect(stacks.length).toBeGreaterThanOrEqual(2);
    expect(stacks.length).toBeLessThanOrEqual(4);
  }, 180_000);

  it("charges the key what the receipts say, and shows it through the admin API", async () => {
    const mine = async () => {
      const listed = await runCliToEnd(
        ["proxy", "keys", "list", "--admin-url", baseURL.replace(/\/v1$/, "")],
        {
          ATOMA_PROXY_ADMIN_TOKEN: ADMIN_TOKEN,
        },
      );
      expect(listed.code, listed.stderr).toBe(0);
      const keys = JSON.parse(listed.stdout) as { id: string; spent: string; reserved: string }[];
      const found = keys.find((k) => k.id === key.id)!;
      return { spent: found.spent, reserved: found.reserved };
    };
    expect(charged).toBeGreaterThan(0n);
    // Charges reach the database from the journal within 250 ms; the gateway's idle budget slice goes back after 2 s.
    await expect
      .poll(mine, { timeout: 15_000, interval: 500 })
      .toEqual({ spent: formatEther(charged), reserved: "0" });
  }, 60_000);

  it("counts the key's usage as the receipts charged it, and exports metrics", async () => {
    const answer = await fetch(`${baseURL}/usage`, { headers: { authorization: `Bearer ${key.key}` } });
    const usage = (await answer.json()) as { data: { model: string; requests: number; spend_wei: string }[] };
    expect(usage.data.every((row) => row.model === ready.model)).toBe(true);
    expect(usage.data.reduce((sum, row) => sum + BigInt(row.spend_wei), 0n)).toBe(charged);
    const printed = await runCliToEnd(
      ["proxy", "usage", "--key", key.id, "--admin-url", baseURL.replace(/\/v1$/, "")],
      { ATOMA_PROXY_ADMIN_TOKEN: ADMIN_TOKEN },
    );
    expect(printed.code, printed.stderr).toBe(0);
    expect(JSON.parse(printed.stdout)).toEqual(usage.data);
    const metrics = await (await fetch(baseURL.replace(/\/v1$/, "/metrics"))).text();
    expect(metrics).toMatch(/atoma_proxy_requests_total\{endpoint="chat",outcome="ok"\} [1-9]/);
  }, 60_000);

  it("routes by the request's provider object, and refuses a bad one with OpenAI's 400", async () => {
    const { data, response } = await client()
      .chat.completions.create({
        model: ready.model,
        messages: [{ role: "user", content: "Hi" }],
        max_tokens: 4,
        provider: { sort: "price", allow_fallbacks: true },
      } as never)
      .withResponse();
    expect(response.headers.get("x-atoma-fallback")).toBe("false");
    track((data as unknown as { atoma: Receipt }).atoma);
    const bad = client().chat.completions.create({
      model: ready.model,
      messages: [{ role: "user", content: "Hi" }],
      provider: { sort: "cheapest" },
    } as never);
    await expect(bad).rejects.toBeInstanceOf(BadRequestError);
    await expect(bad).rejects.toMatchObject({ code: "invalid_input", status: 400 });
  }, 60_000);

  it("refuses what it must in OpenAI's shapes: a wrong key, an unknown model, a spent budget", async () => {
    const wrong = client(`sk-atoma-${"x".repeat(43)}`);
    await expect(wrong.models.list()).rejects.toBeInstanceOf(AuthenticationError);
    const unknown = client().chat.completions.create({
      model: "no-such-model",
      messages: [{ role: "user", content: "hi" }],
    });
    await expect(unknown).rejects.toBeInstanceOf(NotFoundError);
    await expect(unknown).rejects.toMatchObject({ code: "model_not_found", status: 404 });
    const broke = client(poor.key).chat.completions.create({
      model: ready.model,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 8,
    });
    await expect(broke).rejects.toBeInstanceOf(RateLimitError);
    await expect(broke).rejects.toMatchObject({ code: "insufficient_quota", status: 429 });
  }, 60_000);

  it("refuses a revoked key at once", async () => {
    const revoked = await runCliToEnd(
      ["proxy", "keys", "revoke", poor.id, "--admin-url", baseURL.replace(/\/v1$/, "")],
      {
        ATOMA_PROXY_ADMIN_TOKEN: ADMIN_TOKEN,
      },
    );
    expect(revoked.code, revoked.stderr).toBe(0);
    await expect(client(poor.key).models.list()).rejects.toBeInstanceOf(AuthenticationError);
  }, 60_000);

  it("refuses a bad settings file with one line and a non-zero exit, before serving anything", async () => {
    const write = (name: string, text: string) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    };
    const cases: [string, RegExp][] = [
      [
        join(dir, "missing.json"),
        /^atoma: --settings: .*missing\.json cannot be read \(ENOENT\) \(cli_usage\)$/,
      ],
      [write("torn.json", '{"routing": {'), /--settings: .*torn\.json is not JSON/],
      [write("list.json", "[]"), /must hold a JSON object/],
      [write("stacks.json", '{"stacks": {"units": "1"}}'), /"stacks" is not read from a settings file/],
      [write("zero.json", '{"routing": {"cutLimit": 0}}'), /routing\.cutLimit/],
      [write("grace.json", '{"routing": {"inFlightGraceMs": -1}}'), /routing\.inFlightGraceMs/],
      [write("unknown.json", '{"routing": {"cutLimits": 3}}'), /unknown setting routing\.cutLimits/],
    ];
    for (const [file, message] of cases) {
      const run = await runCliToEnd(
        ["proxy", "start", "--network", networkFile, ...where, "--port", "0", "--settings", file],
        { ATOMA_PRIVATE_KEY: GATEWAY_KEY },
      );
      expect(run.code, file).not.toBe(0);
      expect(run.stdout, file).not.toContain("ready");
      expect(run.stderr.trim().split("\n"), file).toEqual([expect.stringMatching(message)]);
    }
  }, 120_000);

  it("logged no warning: every answer cost at most what its request reserved", () => {
    const lines = gateway
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{"));
    expect(lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 40)).toEqual([]);
  });
});
