import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../errors.js";
import { privateDrawOutcomes, publicDrawOutcomes } from "./attesterOutcomes.js";

/** Every subset of the n eligible nodes that could select itself, with its probability, by brute force. */
function enumerateSelections(eligible: number, colluding: number, q: number) {
  const rows: { honest: number; colluding: number; probability: number }[] = [];
  for (let mask = 0; mask < 1 << eligible; mask++) {
    let probability = 1;
    let honest = 0;
    let ours = 0;
    for (let node = 0; node < eligible; node++) {
      const selected = (mask >> node) & 1;
      probability *= selected ? q : 1 - q;
      // Nodes 0 … colluding − 1 are the cheater's.
      if (selected && node < colluding) ours++;
      else if (selected) honest++;
    }
    rows.push({ honest, colluding: ours, probability });
  }
  return rows;
}

function collect(rows: { honest: number; colluding: number; probability: number }[]) {
  const table = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.honest}/${r.colluding}`;
    table.set(key, (table.get(key) ?? 0) + r.probability);
  }
  return table;
}

describe("attester outcomes", () => {
  it.each([
    [1, 0, 0.5, 1],
    [5, 2, 0.2, 2],
    [7, 3, 0.01, 3],
    [8, 0, 0.9, 4],
  ])(
    "private selection on n = %i (m = %i) at p = %f, N = %i matches enumeration of all 2ⁿ subsets",
    (n, m, p, N) => {
      const formula = collect(privateDrawOutcomes(p, N, { eligible: n, colluding: m }));
      const brute = collect(enumerateSelections(n, m, (p * N) / n));
      expect(formula.size).toBe(brute.size);
      for (const [key, probability] of brute) expect(formula.get(key)).toBeCloseTo(probability, 12);
      // Nobody selected, and no honest node selected (the cheater's escape), by the closed forms.
      const q = (p * N) / n;
      expect(formula.get("0/0")).toBeCloseTo((1 - q) ** n, 12);
      const noHonest = [...brute].filter(([k]) => k.startsWith("0/")).reduce((s, [, v]) => s + v, 0);
      expect(noHonest).toBeCloseTo((1 - q) ** (n - m), 12);
    },
  );

  it("holds as a property over 60 seeded random small sets: enumeration, the bound, and more colluders catch less", () => {
    // A linear congruential stream, fixed seed: the same 60 cases every run (fast-check is not a dependency).
    let state = 16;
    const next = () => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state / 4_294_967_296;
    };
    for (let trial = 0; trial < 60; trial++) {
      const n = 1 + Math.floor(next() * 8);
      const m = Math.floor(next() * n);
      const N = 1 + Math.floor(next() * n);
      const p = Math.max(1e-6, next());
      const q = (p * N) / n;
      const formula = collect(privateDrawOutcomes(p, N, { eligible: n, colluding: m }));
      for (const [key, probability] of collect(enumerateSelections(n, m, q)))
        expect(formula.get(key)).toBeCloseTo(probability, 12);
      expect(formula.get("0/0")!).toBeLessThanOrEqual(Math.exp(-p * N) + 1e-15);
      const escapeWith = (colluding: number) =>
        privateDrawOutcomes(p, N, { eligible: n, colluding })
          .filter((o) => o.honest === 0)
          .reduce((sum, o) => sum + o.probability, 0);
      if (m + 1 < n) expect(escapeWith(m + 1)).toBeGreaterThanOrEqual(escapeWith(m) - 1e-15);
    }
  });

  it("with lazy copiers among the honest nodes, matches enumeration by diligent, colluding and lazy counts", () => {
    const [n, m, lazy, p, N] = [7, 2, 2, 0.5, 3];
    const q = (p * N) / n;
    const brute = new Map<string, number>();
    for (let mask = 0; mask < 1 << n; mask++) {
      const counts = [0, 0, 0];
      let probability = 1;
      for (let node = 0; node < n; node++) {
        const on = (mask >> node) & 1;
        probability *= on ? q : 1 - q;
        if (on) counts[node < m ? 1 : node < m + lazy ? 2 : 0]! += 1;
      }
      const key = counts.join("/");
      brute.set(key, (brute.get(key) ?? 0) + probability);
    }
    const formula = privateDrawOutcomes(p, N, { eligible: n, colluding: m, lazy });
    expect(formula).toHaveLength(brute.size);
    for (const o of formula)
      expect(o.probability).toBeCloseTo(brute.get(`${o.honest}/${o.colluding}/${o.lazy}`)!, 12);
  });

  it("the public draw of N from the eligible set matches enumeration of all N-subsets", () => {
    const [n, m, N, p] = [7, 3, 3, 0.4];
    const counts = new Map<number, number>();
    let subsets = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      const chosen = [...Array(n).keys()].filter((i) => (mask >> i) & 1);
      if (chosen.length !== N) continue;
      subsets++;
      const ours = chosen.filter((i) => i < m).length;
      counts.set(ours, (counts.get(ours) ?? 0) + 1);
    }
    const formula = publicDrawOutcomes(p, N, { eligible: n, colluding: m });
    expect(formula[0]).toEqual({ honest: 0, colluding: 0, probability: 1 - p });
    for (const o of formula.slice(1))
      expect(o.probability).toBeCloseTo((p * (counts.get(o.colluding) ?? 0)) / subsets, 12);
  });

  it("sums to one and refuses sets where q would exceed one or nobody is honest", () => {
    const total = privateDrawOutcomes(0.3, 2, { eligible: 12, colluding: 4 }).reduce(
      (s, o) => s + o.probability,
      0,
    );
    expect(total).toBeCloseTo(1, 12);
    expect(() => privateDrawOutcomes(1, 3, { eligible: 2, colluding: 0 })).toThrow(InvalidInputError);
    expect(() => privateDrawOutcomes(0.1, 1, { eligible: 4, colluding: 4 })).toThrow(
      /someone must be honest/,
    );
  });
});
