import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { EngineBusyError, EngineStoppedError, RequestAbortedError } from "../src/errors.js";
import { chatBody, completionBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";

const long = (seed: number) => completionBody("Run long", { max_tokens: 400, seed, ignore_eos: true });

describe("several requests on one loaded model", () => {
  let engine: EmbeddedEngine;
  beforeAll(async () => {
    engine = await startTinyEngine({ sequences: 4 });
  });
  afterAll(() => engine.stop());

  it("runs them at once on context sequences, each as if it ran alone", async () => {
    const bodies = [0, 1, 2, 3, 4, 5].map((seed) =>
      completionBody(`Prompt ${seed}`.repeat(seed + 1), { max_tokens: 120, seed, ignore_eos: true }),
    );
    const alone = [];
    for (const body of bodies) alone.push((await engine.complete(body)).generation.completionTokenIds);
    let peak = 0;
    const watcher = setInterval(() => {
      void engine.load().then((load) => {
        peak = Math.max(peak, load.running);
      });
    }, 2);
    const together = await Promise.all(bodies.map((body) => engine.complete(body)));
    clearInterval(watcher);
    expect(together.map((r) => r.generation.completionTokenIds)).toEqual(alone);
    expect(peak).toBe(4);
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 4 });
  });

  it("embeds text deterministically, counting the tokens it evaluated", async () => {
    const one = await engine.embed({ model: TINY, input: "hello world" });
    const again = await engine.embed({ model: TINY, input: ["hello world", "goodbye"] });
    expect(one.object).toBe("list");
    expect(one.data[0]?.embedding).toHaveLength(64);
    expect(again.data[0]?.embedding).toEqual(one.data[0]?.embedding);
    expect(again.data[1]?.embedding).not.toEqual(one.data[0]?.embedding);
    expect(one.usage.prompt_tokens).toBe(
      (await engine.tokenize({ model: TINY, prompt: "hello world" })).count,
    );
    expect(again.usage.prompt_tokens).toBe(one.usage.prompt_tokens + 1 + "goodbye".length);
    const encoded = await engine.embed({ model: TINY, input: "hello world", encoding_format: "base64" });
    const bytes = Buffer.from(encoded.data[0]?.embedding as string, "base64");
    const floats = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    expect(floats).toEqual(one.data[0]?.embedding);
    await expect(engine.embed({ model: TINY, input: "" })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("counts prompt tokens, with the beginning-of-sequence token", async () => {
    const result = await engine.tokenize({ model: TINY, prompt: "abc" });
    expect(result).toEqual({
      model: TINY,
      tokens: [1, 330 - 4, 330 - 3, 330 - 2],
      count: 4,
      max_model_len: 1024,
    });
  });
});

describe("a bounded queue", () => {
  let engine: EmbeddedEngine;
  beforeAll(async () => {
    engine = await startTinyEngine({ sequences: 1, maxQueue: 1 });
  });
  afterAll(() => engine.stop());

  it("answers busy, with a retry hint, when the queue is full; serves the waiter when a slot frees", async () => {
    const running = await engine.streamComplete(long(1));
    const waiting = engine.complete(completionBody("wait", { max_tokens: 4, seed: 1 }));
    await expect(engine.complete(completionBody("more", { max_tokens: 4 }))).rejects.toSatisfy(
      (error) =>
        error instanceof EngineBusyError && error.retryAfterSeconds >= 1 && error.code === "engine_busy",
    );
    expect(await engine.load()).toEqual({ running: 1, waiting: 1, capacity: 1 });
    await running.cancel();
    await expect(running.result).rejects.toBeInstanceOf(RequestAbortedError);
    expect((await waiting).response.usage.completion_tokens).toBeGreaterThan(0);
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 1 });
  });

  it("stops generating when the caller aborts, reports the work done, and frees the sequence", async () => {
    const controller = new AbortController();
    const stream = await engine.streamComplete(long(2), { signal: controller.signal });
    let chunks = 0;
    const consumed = (async () => {
      for await (const _ of stream) if (++chunks === 5) controller.abort();
    })();
    await expect(consumed).rejects.toSatisfy(
      (error) =>
        error instanceof RequestAbortedError &&
        error.usage.completion_tokens >= 5 &&
        error.usage.prompt_tokens > 0,
    );
    expect(chunks).toBeLessThan(50);
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 1 });
    // The sequence starts clean for the next request: same output as before the abort.
    const body = completionBody("after", { max_tokens: 20, seed: 3 });
    expect((await engine.complete(body)).generation).toEqual((await engine.complete(body)).generation);
  });

  it("drops a request from the queue when its caller aborts while it waits", async () => {
    const running = await engine.streamComplete(long(3));
    const controller = new AbortController();
    const waiting = engine.complete(completionBody("wait", { max_tokens: 4 }), { signal: controller.signal });
    expect((await engine.load()).waiting).toBe(1);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(RequestAbortedError);
    expect((await engine.load()).waiting).toBe(0);
    await running.cancel();
  });

  it("frees the slot of a stream nobody reads once its caller aborts", async () => {
    const controller = new AbortController();
    const stream = await engine.streamComplete(long(6), { signal: controller.signal });
    expect((await engine.load()).running).toBe(1);
    controller.abort();
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 1 });
    await stream.cancel();
  });

  it("frees the slot when a consumer stops reading early", async () => {
    const stream = await engine.streamChat(
      chatBody("Early exit", { max_tokens: 200, seed: 4, ignore_eos: true }),
    );
    for await (const _ of stream) break;
    await expect(stream.result).rejects.toBeInstanceOf(RequestAbortedError);
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 1 });
  });
});

describe("stopping", () => {
  it("cancels what runs, then refuses new work", async () => {
    const engine = await startTinyEngine({ sequences: 1 });
    const stream = await engine.streamComplete(long(5));
    const consumed = (async () => {
      for await (const _ of stream) {
        // keep reading until the engine stops it
      }
    })().catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await engine.stop();
    expect(await consumed).toBeInstanceOf(RequestAbortedError);
    await expect(engine.complete(completionBody("late"))).rejects.toBeInstanceOf(EngineStoppedError);
  });
});
