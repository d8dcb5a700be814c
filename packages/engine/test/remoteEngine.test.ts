import { responseHash, silentLogger } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import {
  EngineBusyError,
  InvalidRequestError,
  ModelNotFoundError,
  RequestAbortedError,
  UpstreamError,
} from "../src/errors.js";
import { RemoteEngine } from "../src/remote/RemoteEngine.js";
import { type OpenAiServer, startOpenAiServer } from "./helpers/openAiServer.js";
import { chatBody, completionBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";

const long = (seed: number) => completionBody("Long", { max_tokens: 600, seed, ignore_eos: true });

function remoteOver(urls: string[], extra: Record<string, unknown> = {}): RemoteEngine {
  return new RemoteEngine(
    { logger: silentLogger },
    { upstreams: urls.map((url) => ({ url, ...extra })), refreshIntervalMs: 60_000 },
  );
}

/** Waits until `check` holds (load moves asynchronously). */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

let engineA: EmbeddedEngine;
let engineB: EmbeddedEngine;
let serverA: OpenAiServer;
let serverB: OpenAiServer;
beforeAll(async () => {
  engineA = await startTinyEngine({ sequences: 1, maxQueue: 0 });
  engineB = await startTinyEngine({ sequences: 1, maxQueue: 0 });
  serverA = await startOpenAiServer(engineA);
  serverB = await startOpenAiServer(engineB);
});
afterAll(async () => {
  await serverA.close();
  await serverB.close();
  await engineA.stop();
  await engineB.stop();
});

describe("remote engine over a real OpenAI-compatible server", () => {
  let remote: RemoteEngine;
  beforeAll(async () => {
    remote = remoteOver([serverA.url]);
    await remote.start();
  });
  afterAll(() => remote.stop());

  it("learns the upstream's models and health", async () => {
    expect((await remote.models()).map((m) => m.id)).toEqual([TINY]);
    expect(await remote.health()).toMatchObject({
      ok: true,
      models: [TINY],
      load: { running: 0, waiting: 0 },
    });
  });

  it("produces what the embedded engine produces for the same body, seed derived the same way", async () => {
    for (const body of [
      chatBody("Remote?", { max_tokens: 40 }),
      completionBody("Remote", { max_tokens: 30, temperature: 0.7, top_k: 30 }),
    ]) {
      const direct = "messages" in body ? await engineB.chat(body) : await engineB.complete(body);
      const relayed = "messages" in body ? await remote.chat(body) : await remote.complete(body);
      expect(responseHash(relayed.response)).toBe(responseHash(direct.response));
      expect(relayed.response.usage).toEqual(direct.response.usage);
      expect(relayed.generation.sampling).toEqual(direct.generation.sampling);
    }
  });

  it("generates from a prepared request what it generates from the body, counting the prompt upstream", async () => {
    const body = chatBody("Prepared remotely", { max_tokens: 30, seed: 12 });
    const before = serverA.paths.length;
    const prepared = await remote.prepare(body, "chat");
    expect(serverA.paths.slice(before)).toEqual(["POST /tokenize"]);
    const prompt = await engineB.tokenize({ model: TINY, messages: body.messages });
    expect(prepared.promptTokens).toEqual(prompt.tokens);
    expect(prepared.promptTokenCount).toBe(prompt.count);
    expect(prepared.maxModelLen).toBe(prompt.max_model_len);
    const direct = await engineB.chat(body);
    const afterPrepare = serverA.paths.length;
    const relayed = await remote.chat(prepared);
    expect(serverA.paths.slice(afterPrepare)).toEqual(["POST /v1/chat/completions"]);
    expect(responseHash(relayed.response)).toBe(responseHash(direct.response));
    expect(relayed.generation.sampling).toEqual(direct.generation.sampling);
    // A request another engine prepared is generated from its body.
    const elsewhere = await remote.chat(await engineB.prepare(body, "chat"));
    expect(responseHash(elsewhere.response)).toBe(responseHash(direct.response));
  });

  it("relays streams chunk by chunk, with the server's usage", async () => {
    const body = chatBody("Stream it", { max_tokens: 50, seed: 8, stream_options: { include_usage: true } });
    const direct = await engineB.chat(body);
    const stream = await remote.streamChat(body);
    let text = "";
    let usage: unknown;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(direct.response.choices[0]?.message.content);
    expect(usage).toEqual(direct.response.usage);
    expect(responseHash((await stream.result).response)).toBe(responseHash(direct.response));

    const quiet = await remote.streamComplete(completionBody("No usage chunk", { max_tokens: 10 }));
    let sawUsage = false;
    for await (const chunk of quiet) sawUsage ||= chunk.usage != null;
    expect(sawUsage).toBe(false);
    expect((await quiet.result).response.usage.completion_tokens).toBeGreaterThan(0);
  });

  it("passes embeddings and tokenization through", async () => {
    const embedded = await remote.embed({ model: TINY, input: ["a", "b"] });
    expect(embedded.data).toHaveLength(2);
    expect(embedded).toEqual(await engineB.embed({ model: TINY, input: ["a", "b"] }));
    expect(await remote.tokenize({ model: TINY, prompt: "abc" })).toEqual(
      await engineB.tokenize({ model: TINY, prompt: "abc" }),
    );
  });

  it("refuses bad requests itself and maps the upstream's refusals to named errors", async () => {
    const before = serverA.paths.length;
    await expect(remote.chat({ model: TINY, messages: [] })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(remote.chat({ ...chatBody("x"), model: "absent" })).rejects.toBeInstanceOf(
      ModelNotFoundError,
    );
    expect(serverA.paths.length).toBe(before);
    await expect(remote.complete(completionBody("x".repeat(3000)))).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  });

  it("refuses tools, JSON answers and logprobs by name: an upstream's grammar and probabilities are not what a verifier computes", async () => {
    const before = serverA.paths.length;
    const tool = { type: "function", function: { name: "f" } };
    for (const [extra, param] of [
      [{ tools: [tool] }, "tools"],
      [{ response_format: { type: "json_object" } }, "response_format"],
      [{ logprobs: true }, "logprobs"],
    ] as const)
      await expect(remote.chat(chatBody("x", extra))).rejects.toMatchObject({
        code: "unsupported_parameter",
        param,
      });
    await expect(remote.complete(completionBody("x", { logprobs: 2 }))).rejects.toMatchObject({
      code: "unsupported_parameter",
      param: "logprobs",
    });
    expect(serverA.paths.length).toBe(before);
  });

  it("answers busy when the upstream does, and stops the upstream's work when its caller aborts", async () => {
    const controller = new AbortController();
    const stream = await remote.streamComplete(long(1), { signal: controller.signal });
    await until(async () => engineA.modelLoad(TINY).running === 1);
    await expect(remote.complete(completionBody("busy?", { max_tokens: 2 }))).rejects.toSatisfy(
      (error) => error instanceof EngineBusyError && error.retryAfterSeconds >= 1,
    );
    let chunks = 0;
    const read = (async () => {
      for await (const _ of stream) if (++chunks === 3) controller.abort();
    })().catch((error: unknown) => error);
    expect(await read).toBeInstanceOf(RequestAbortedError);
    await until(async () => engineA.modelLoad(TINY).running === 0);
    expect(engineA.modelLoad(TINY).running).toBe(0);
    expect(remote.upstreams()[0]?.inflight).toBe(0);
  });
});

describe("remote engine over several upstreams", () => {
  it("sends each request to the least loaded upstream, by its Prometheus metrics", async () => {
    const remote = remoteOver([serverA.url, serverB.url]);
    await remote.start();
    try {
      // Occupy A directly (not through this engine): only its metrics can tell.
      const busyA = await engineA.streamComplete(long(2));
      await remote.refresh();
      expect(remote.upstreams().map((u) => u.loadScore)).toEqual([1, 0]);
      const beforeB = serverB.paths.length;
      await remote.complete(completionBody("route me", { max_tokens: 4 }));
      expect(serverB.paths.slice(beforeB)).toContain("POST /v1/completions");
      await busyA.cancel();

      const busyB = await engineB.streamComplete(long(3));
      await remote.refresh();
      expect(remote.upstreams().map((u) => u.loadScore)).toEqual([0, 1]);
      const beforeA = serverA.paths.length;
      await remote.complete(completionBody("route me too", { max_tokens: 4 }));
      expect(serverA.paths.slice(beforeA)).toContain("POST /v1/completions");
      await busyB.cancel();
    } finally {
      await remote.stop();
    }
  });

  it("skips an upstream that does not answer, and says so in its health", async () => {
    const dead = await startOpenAiServer(engineA);
    const deadUrl = dead.url;
    await dead.close();
    const remote = new RemoteEngine(
      { logger: silentLogger },
      {
        upstreams: [
          { url: deadUrl, models: [TINY] },
          { url: serverB.url, models: [TINY] },
        ],
        refreshIntervalMs: 60_000,
      },
    );
    await remote.start();
    try {
      expect(remote.upstreams().map((u) => u.healthy)).toEqual([false, true]);
      expect((await remote.health()).ok).toBe(true);
      expect(
        (await remote.complete(completionBody("alive", { max_tokens: 3 }))).response.usage.completion_tokens,
      ).toBe(3);
    } finally {
      await remote.stop();
    }
    const allDead = new RemoteEngine(
      { logger: silentLogger },
      { upstreams: [{ url: deadUrl, models: [TINY] }] },
    );
    await allDead.start();
    expect(await allDead.health()).toMatchObject({ ok: false });
    await expect(allDead.complete(completionBody("anyone?"))).rejects.toBeInstanceOf(UpstreamError);
    await allDead.stop();
  });
});
