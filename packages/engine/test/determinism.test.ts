import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { chatBody, completionBody, startTinyEngine } from "./helpers/tinyEngine.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("./fixtures/generateInProcess.ts", import.meta.url));

/**
 * Greedy and sampled decoding, every truncation, chat and text, and one output past 256 tokens (where flash
 * attention would make results depend on the thread count). Kept short: two threads on a busy 2-core machine
 * decode slowly.
 */
const requests = [
  completionBody("Once upon a time", { max_tokens: 280, temperature: 0.8, seed: 77, ignore_eos: true }),
  completionBody("The quick brown fox", {
    max_tokens: 40,
    temperature: 1.2,
    top_k: 40,
    top_p: 0.9,
    min_p: 0.02,
    seed: 5,
  }),
  chatBody("Tell me a story about the sea.", { max_tokens: 40, temperature: 0, ignore_eos: true }),
  chatBody("No seed here: it comes from the request hash.", { max_tokens: 40 }),
];

async function inProcess(threads: number): Promise<number[][]> {
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", script, JSON.stringify({ threads, requests })],
    // A loaded 2-core CI machine can take minutes to start a process and load llama.cpp: only a hang should fail.
    { timeout: 480_000 },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as number[][];
}

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine();
});
afterAll(() => engine.stop());

describe("determinism", () => {
  it("gives bit-identical tokens in two separate processes, one thread and two", {
    timeout: 1_200_000,
  }, async () => {
    const oneThread = await inProcess(1);
    const twoThreads = await inProcess(2);
    expect(oneThread.length).toBe(requests.length);
    expect(oneThread.every((tokens) => tokens.length > 0)).toBe(true);
    expect(oneThread[0]!.length).toBe(280);
    expect(twoThreads).toEqual(oneThread);
    const here: number[][] = [];
    for (const body of requests) {
      const result = "messages" in body ? await engine.chat(body) : await engine.complete(body);
      here.push(result.generation.completionTokenIds ?? []);
    }
    expect(here).toEqual(oneThread);
  });

  it("gives other tokens for another seed, and the same for the same seed", async () => {
    const outputs = new Set<string>();
    for (const seed of [1, 2, 3, 1]) {
      const { generation } = await engine.complete(
        completionBody("Seeds", { max_tokens: 64, temperature: 1, seed, ignore_eos: true }),
      );
      outputs.add(JSON.stringify(generation.completionTokenIds));
    }
    expect(outputs.size).toBe(3);
  });
});
