import { privateDetectionProbability } from "@atoma/core";
import { describe, expect, it } from "vitest";
import { SimulationOptionsError } from "../src/options.js";
import { runPrivateSelection } from "../src/privateSelection.js";
import { validatePrivateSelectionOptions } from "../src/privateSelectionOptions.js";

describe("private self-selection drawn settlement by settlement", () => {
  it("is reproducible from its seed, and another seed draws otherwise", () => {
    const run = (seed: number) =>
      runPrivateSelection(validatePrivateSelectionOptions({ seed, settlements: 400, pValues: [0.3] })).points;
    expect(run(5)).toEqual(run(5));
    expect(run(5)[0]!.noAttester.count).not.toBe(run(6)[0]!.noAttester.count);
  });

  it.each([
    // [nodes, adversary, attesters, lazy]: cheaters own round(r·nodes) nodes, the server among them.
    [10, 0.3, 1, 0],
    [10, 0.5, 2, 0],
    [12, 0.25, 3, 2],
  ])(
    "measures no-attester and detection rates inside 99.9 percent intervals around the formulas (%i nodes, r = %f, N = %i, %i lazy)",
    (nodes, adversary, attesters, lazy) => {
      const result = runPrivateSelection(
        validatePrivateSelectionOptions({
          nodes,
          adversary,
          attesters,
          lazy,
          settlements: 3_000,
          pValues: [0.05, 0.4],
        }),
      );
      expect(result.consistent).toBe(true);
      for (const pt of result.points) {
        expect(pt.noAttester.expected).toBeLessThanOrEqual(pt.noAttester.bound);
        expect(pt.q).toBeCloseTo((pt.p * attesters) / result.eligible, 12);
        // The interval is the stated tolerance: at most ±3.29 standard errors, not a free margin.
        expect(pt.detection.interval.high - pt.detection.interval.low).toBeLessThan(0.06);
      }
    },
  );

  it("tells the cheater's silent nodes and lazy copiers apart from honest ones: the naive formula falls outside", () => {
    const result = runPrivateSelection(
      validatePrivateSelectionOptions({
        nodes: 10,
        adversary: 0.4,
        attesters: 2,
        lazy: 2,
        settlements: 4_000,
        pValues: [0.5],
      }),
    );
    const pt = result.points[0]!;
    expect(result.colluding).toBe(3);
    expect(pt.detection.within).toBe(true);
    // Counting every eligible node as a checker would promise 1 − (1 − q)⁹; the draw measures far less.
    const naive = privateDetectionProbability(0.5, 2, { eligible: 9, colluding: 0 });
    expect(naive).toBeGreaterThan(pt.detection.interval.high);
    // And ignoring the lazy copiers (counting only the cheater's own) promises too much as well.
    const ignoringLazy = privateDetectionProbability(0.5, 2, { eligible: 9, colluding: 3 });
    expect(ignoringLazy).toBeGreaterThan(pt.detection.interval.high);
  });

  it("shows cheating paying below the private p* and losing above it, by the measured margin per settlement", () => {
    const result = runPrivateSelection(
      validatePrivateSelectionOptions({ attesters: 2, lazy: 1, settlements: 4_000 }),
    );
    const [half, atThreshold, twice] = result.points as [
      (typeof result.points)[0],
      (typeof result.points)[0],
      (typeof result.points)[0],
    ];
    expect(atThreshold.p).toBeCloseTo(result.privateThreshold, 6);
    expect(atThreshold.margin.expected).toBeCloseTo(0, 3);
    // Measured, not only computed: the whole 99.9 % interval lies on the side the threshold says.
    expect(half.margin.interval.high).toBeLessThan(0);
    expect(twice.margin.interval.low).toBeGreaterThan(0);
    expect(result.consistent).toBe(true);
  });

  it("draws the same way with the real ECVRF (every node evaluates its key on the settlement's seed)", () => {
    const result = runPrivateSelection(
      validatePrivateSelectionOptions({ vrf: true, attesters: 3, settlements: 40, pValues: [1] }),
    );
    const pt = result.points[0]!;
    expect(pt.meanAttesters.expected).toBe(3);
    expect(pt.meanAttesters.measured).toBeGreaterThan(1.5);
    expect(result.consistent).toBe(true);
  });

  it("refuses a network with too few diligent honest nodes for N attesters", () => {
    expect(() =>
      validatePrivateSelectionOptions({ nodes: 6, adversary: 0.5, attesters: 2, lazy: 2 }),
    ).toThrow(SimulationOptionsError);
  });
});
