import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { RequestAbortedError } from "../src/errors.js";
import { chatBody, completionBody, startTinyEngine, TINY } from "./helpers/tinyEngine.js";

/** A seeded generator, so a failing round can be reproduced. */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prompts of very different lengths, so prompts and single tokens of other sequences are pending together. */
const prompts = [
  "Once upon a time",
  "Hello there. ".repeat(12),
  "abc",
  "The quick brown fox jumps over the lazy dog. ".repeat(6),
  "x",
  "Numbers: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
  "Why?",
];

const bodies = prompts.map((prompt, index) =>
  index % 3 === 2
    ? chatBody(prompt, { max_tokens: 100, seed: index, ignore_eos: true })
    : completionBody(prompt, {
        max_tokens: 100,
        seed: index,
        ignore_eos: true,
        ...(index % 2 === 0 ? { temperature: 0 } : { temperature: 1.1, top_k: 0 }),
      }),
);

const tokensOf = async (engine: EmbeddedEngine, body: object) =>
  ("messages" in body ? await engine.chat(body) : await engine.complete(body)).generation.completionTokenIds;

describe("concurrent generation on one context", () => {
  let engine: EmbeddedEngine;
  beforeAll(async () => {
    engine = await startTinyEngine({ sequences: 4 });
  });
  afterAll(() => engine.stop());

  it("gives every request, arriving at random times beside others, the tokens it gets alone", {
    timeout: 900_000,
  }, async () => {
    const alone = [];
    for (const body of bodies) alone.push(await tokensOf(engine, body));
    for (let round = 1; round <= 4; round++) {
      const random = randomFrom(round);
      const aborted = new AbortController();
      // Another request is cut off part-way each round: its sequence is reused by the next one in the queue.
      const interrupted = (async () => {
        const stream = await engine.streamComplete(
          completionBody("Interrupted ".repeat(round), { max_tokens: 300, seed: round, ignore_eos: true }),
          { signal: aborted.signal },
        );
        let chunks = 0;
        for await (const _ of stream) if (++chunks === 10 * round) aborted.abort();
      })().catch((error: unknown) => error);
      const together = await Promise.all(
        bodies.map(async (body) => {
          await pause(random() * 40);
          if (random() < 0.5) return tokensOf(engine, body);
          // A slow reader: the sequence's next decode is queued at its own pace.
          const stream =
            "messages" in body ? await engine.streamChat(body) : await engine.streamComplete(body);
          for await (const _ of stream) if (random() < 0.1) await pause(random() * 5);
          return (await stream.result).generation.completionTokenIds;
        }),
      );
      expect(together, `round ${round}`).toEqual(alone);
      expect(await interrupted).toBeInstanceOf(RequestAbortedError);
    }
    expect(await engine.load()).toEqual({ running: 0, waiting: 0, capacity: 4 });
  });

  it("gives each sequence bit-identical probabilities whether it runs alone or beside others", {
    timeout: 900_000,
  }, async () => {
    const loaded = engine.modelFor(TINY);
    const leases = await Promise.all([0, 1, 2, 3].map(() => loaded.admit(undefined).ready));
    try {
      const sequences = leases.map((lease) => lease.slot);
      // Probabilities differ in the last bits when tokens of several sequences share a decode, long before a
      // sampled token flips: this sees what comparing tokens would miss.
      const run = async (sequence: LlamaContextSequence, prompt: string, random?: () => number) => {
        await sequence.clearHistory();
        const steps: string[] = [];
        const tokens = loaded.model.tokenize(prompt) as Token[];
        for await (const step of sequence.evaluateWithMetadata(
          tokens,
          { probabilities: true },
          { temperature: 0, yieldEogToken: true },
        )) {
          steps.push(`${step.token}:${[...step.probabilities.entries()].slice(0, 4).join(";")}`);
          if (steps.length === 80) break;
          if (random && random() < 0.15) await pause(random() * 4);
        }
        return steps;
      };
      const chosen = prompts.slice(0, 4);
      const alone = [];
      for (const prompt of chosen) alone.push(await run(sequences[0]!, prompt));
      for (let round = 1; round <= 3; round++) {
        const random = randomFrom(100 + round);
        const together = await Promise.all(
          chosen.map(async (prompt, index) => {
            await pause(random() * 20);
            return run(sequences[(index + round) % 4]!, prompt, random);
          }),
        );
        expect(together, `round ${round}`).toEqual(alone);
      }
    } finally {
      for (const lease of leases) lease.release();
    }
  });
});
