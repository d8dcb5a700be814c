import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { vrfVerify } from "./ecvrf.js";
import { settlementSelectionThreshold } from "./selfSelection.js";
import { buildVrfReplacementVectors, buildVrfSelectionVectors } from "./vrfSelectionVectorCases.js";

describe("private self-selection vectors", () => {
  const committed = JSON.parse(
    readFileSync(new URL("../../vectors/vrfSelection.json", import.meta.url), "utf8"),
  );

  it("are what the current code produces (regenerate with npm run vectors:vrf -w @atoma/core)", () => {
    expect(buildVrfSelectionVectors()).toEqual(committed);
  });

  it("replacement rounds: the committed vectors are the current code's, one fresh seed per stack and round", () => {
    const replacement = JSON.parse(
      readFileSync(new URL("../../vectors/vrfReplacement.json", import.meta.url), "utf8"),
    );
    expect(buildVrfReplacementVectors()).toEqual(replacement);
    const seeds = new Set<string>();
    for (const stack of replacement.stacks) for (const round of stack.rounds) seeds.add(round.seed);
    for (const stack of committed.stacks) seeds.add(stack.seed);
    const rounds = replacement.stacks.reduce(
      (n: number, stack: { rounds: unknown[] }) => n + stack.rounds.length,
      0,
    );
    expect(seeds.size).toBe(rounds + committed.stacks.length);
  });

  it("each proof verifies under its node's key on its stack's seed, and under no other key", () => {
    const vectors = buildVrfSelectionVectors(3, 2);
    for (const stack of vectors.stacks) {
      for (const [i, p] of stack.proofs.entries()) {
        const own = vectors.nodes[i];
        const other = vectors.nodes[(i + 1) % vectors.nodes.length];
        if (!own || !other) throw new Error("fixture");
        expect(vrfVerify(own.publicKey, stack.seed, p.proof)).toBe(p.beta);
        expect(() => vrfVerify(other.publicKey, stack.seed, p.proof)).toThrow();
      }
    }
  });

  it("threshold: p·N/n, N/n when the settlement must be checked, never above 1", () => {
    const t = (replicationPpm: number, attesters: number, candidateCount: number, certain: boolean) =>
      settlementSelectionThreshold({ replicationPpm, attesters, candidateCount, certain });
    expect(t(100_000, 3, 10, false)).toEqual({ numerator: 300_000n, denominator: 10_000_000n });
    expect(t(100_000, 3, 10, true)).toEqual({ numerator: 3n, denominator: 10n });
    expect(t(1_000_000, 8, 3, false)).toEqual({ numerator: 3_000_000n, denominator: 3_000_000n });
  });
});
