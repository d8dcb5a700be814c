import type { ControlledEvaluateInputItem, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedEngine } from "../src/embedded/EmbeddedEngine.js";
import { evaluateWithReadouts, type Readout } from "../src/verify/batchedReadout.js";
import { startTinyEngine, TINY } from "./helpers/tinyEngine.js";

let engine: EmbeddedEngine;
beforeAll(async () => {
  engine = await startTinyEngine();
});
afterAll(() => engine.stop());

describe("read-outs in flight together", () => {
  it("read the same logits as controlledEvaluate at every position, across two batches", async () => {
    // controlledEvaluate is also asked for the next token by name, often outside the top 56: node-llama-cpp looks
    // for named tokens among what the top-k sampler kept, so the read-outs, which name none, lose nothing.
    const loaded = engine.modelFor(TINY);
    const lease = await loaded.admit(undefined).ready;
    try {
      const sequence = lease.slot;
      // 700 tokens: more than one batch (512), so the read-outs of the first batch happen before the second decode.
      const tokens = Array.from({ length: 700 }, (_, i) => 3 + ((i * 37) % 200));
      const readoutAt = (i: number): Readout | undefined =>
        i < 5 ? undefined : i % 3 === 0 ? "all" : { top: 56 };
      await sequence.clearHistory();
      const items: ControlledEvaluateInputItem[] = tokens.map((token, i) => {
        const readout = readoutAt(i);
        if (readout === undefined) return token as Token;
        return [
          token as Token,
          readout === "all"
            ? { generateNext: { logits: true } }
            : {
                generateNext: {
                  logits: { filter: { tokens: [(tokens[i + 1] ?? 2) as Token], includeTop: readout.top } },
                  options: { topK: readout.top, temperature: 1, topP: 1, minP: 0 },
                },
              },
        ];
      });
      const expected = await sequence.controlledEvaluate(items);
      await sequence.clearHistory();
      const read = await evaluateWithReadouts(
        sequence,
        tokens,
        tokens.map((_, i) => readoutAt(i)),
      );
      let compared = 0;
      let namedOutsideTop = 0;
      for (const [i] of tokens.entries()) {
        const want = expected[i]?.next.logits;
        if (readoutAt(i) === undefined) {
          expect(read[i]).toBeUndefined();
          continue;
        }
        const pairs = read[i]!;
        const got = new Map<number, number>();
        for (let k = 0; k < pairs.length; k += 2) got.set(pairs[k]!, pairs[k + 1]!);
        if (readoutAt(i) !== "all" && !got.has(tokens[i + 1] ?? 2)) namedOutsideTop++;
        expect([...got.entries()].sort((a, b) => a[0] - b[0])).toEqual(
          [...want!.entries()].sort((a, b) => a[0] - b[0]),
        );
        compared++;
      }
      expect(compared).toBe(695);
      expect(namedOutsideTop).toBeGreaterThan(100);
    } finally {
      lease.release();
    }
  });
});
