import { describe, expect, it } from "vitest";
import { perActor } from "../src/concurrency.js";
import { estimateCrossing } from "../src/crossing.js";
import { replicationTargets, sweepRates } from "../src/economics.js";
import { defaultSimulationOptions } from "../src/options.js";
import { SeededRandom, seededPrivateKey } from "../src/random.js";
import { firstDownCrossing, wilsonInterval } from "../src/statistics.js";
import { escapeXml, renderPlot } from "../src/svgPlot.js";
import { expectWellFormedSvg } from "./simulateSvg.js";

describe("simulation parts", () => {
  it("draws the same stream from the same seed, and another from another", () => {
    const draws = (seed: number) => {
      const random = new SeededRandom(seed);
      return Array.from({ length: 5 }, () => random.next());
    };
    expect(draws(3)).toEqual(draws(3));
    expect(draws(3)).not.toEqual(draws(4));
    expect(seededPrivateKey(1, "node-0-0")).toBe(seededPrivateKey(1, "node-0-0"));
    expect(new SeededRandom(1).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it("gives Wilson intervals that hold the estimate and shrink with trials", () => {
    const small = wilsonInterval(3, 10);
    const large = wilsonInterval(300, 1000);
    expect(small.low).toBeLessThan(0.3);
    expect(small.high).toBeGreaterThan(0.3);
    expect(large.high - large.low).toBeLessThan(small.high - small.low);
    expect(wilsonInterval(0, 10).low).toBe(0);
    expect(wilsonInterval(10, 10).high).toBe(1);
  });

  it("finds where a curve first falls below zero", () => {
    expect(firstDownCrossing([0, 1, 2], [2, 1, -1])).toBeCloseTo(1.5);
    expect(firstDownCrossing([0, 1], [1, 0.5])).toBeUndefined();
    expect(firstDownCrossing([0.1, 1], [-1, -2])).toBe(0.1);
  });

  it("fits the crossing through the sweep and bounds it with the pooled binomial count of catches", () => {
    const points = [0, 0.05, 0.1, 0.15, 0.2].map((p) => ({
      p,
      cheats: 400,
      caught: Math.round(400 * 0.8 * p),
      honest: { profitPerStack: 0.2 },
      cheater: { profitPerStack: 1.2 - 10 * p },
    }));
    const crossing = estimateCrossing(points);
    expect(crossing.p).toBeCloseTo(0.1, 6);
    expect(crossing.interpolated).toBeCloseTo(0.1, 6);
    expect(crossing.detectionPerP).toBeCloseTo(0.8, 2);
    expect(crossing.low!).toBeLessThan(0.1);
    expect(crossing.high!).toBeGreaterThan(0.1);
    expect(estimateCrossing(points.map((pt) => ({ ...pt, caught: 0 }))).low).toBeUndefined();
  });

  it("computes p* with core's Corollary 1 and sweeps from 0 to twice it", () => {
    const targets = replicationTargets(defaultSimulationOptions, 3);
    expect(targets.corollary).toBeCloseTo(1 / (0.7 * 21.2), 6);
    expect(targets.finiteNetwork).toBeCloseTo(1 / ((1 - 2 / 9) * 21.2), 6);
    // Private selection on the same 9 eligible nodes, 2 of them the cheater's: the lemmas' crossing, near both.
    expect(targets.privateSelection).toBeCloseTo(0.05816, 4);
    const rates = sweepRates(defaultSimulationOptions, targets.corollary);
    expect(rates).toHaveLength(defaultSimulationOptions.pPoints);
    expect(rates[0]).toBe(0);
    expect(rates.at(-1)).toBeCloseTo(2 * targets.corollary, 5);
  });

  it("runs one actor's work in order while actors run side by side", async () => {
    const log: string[] = [];
    const items = [
      { actor: 1n, name: "a1" },
      { actor: 2n, name: "b1" },
      { actor: 1n, name: "a2" },
    ];
    const results = await perActor(
      items,
      (i) => i.actor,
      async (i) => {
        log.push(i.name);
        await new Promise((resolve) => setImmediate(resolve));
        return i.name.toUpperCase();
      },
    );
    expect(results).toEqual(["A1", "B1", "A2"]);
    expect(log.indexOf("a1")).toBeLessThan(log.indexOf("a2"));
  });

  it("writes a well-formed SVG with escaped labels", () => {
    const svg = renderPlot({
      title: 'profit <R & S> "quoted"',
      xLabel: "p",
      yLabel: "TOMA",
      series: [
        {
          label: "a & b",
          colour: "#000",
          points: [
            { x: 0, y: 1, low: 0.5, high: 1.5 },
            { x: 1, y: -1 },
          ],
        },
      ],
      markers: [{ label: "p* < 1", x: 0.5, colour: "#555" }],
    });
    expectWellFormedSvg(svg);
    expect(svg).toContain(escapeXml('profit <R & S> "quoted"'));
  });
});
