import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { profitPlot, runSimulation, type SimulationResult, validateSimulationOptions } from "@atoma/simulate";
import { afterAll, describe, expect, it } from "vitest";
import { expectWellFormedSvg } from "../../simulate/test/simulateSvg.js";
import { runCli } from "./cliProcess.js";

const root = mkdtempSync(join(tmpdir(), "atoma-simulate-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("atoma econ simulate through the deployed contracts", () => {
  it("catches every cheat at p = 1 and none at p = 0, and cheating pays only without checks", async () => {
    // Two cheaters among six nodes and two attesters per check: a cheater's attesters can never both be its own,
    // so at p = 1 every cheat reaches a dispute, where the committee recomputes and outvotes it.
    const options = validateSimulationOptions({
      stacks: 24,
      nodes: 6,
      adversary: 0.34,
      attesters: 2,
      pValues: [0, 1],
      concurrency: 12,
      seed: 7,
    });
    const progress: string[] = [];
    const result: SimulationResult = await runSimulation(options, {
      isTTY: false,
      write: (t) => progress.push(t),
    });
    expect(result.cheaters).toBe(2);
    expect(result.stacks).toBe(48);
    expect(progress.at(-1)).toMatch(/100% 48\/48 stacks/);
    const [none, all] = result.points as [SimulationResult["points"][0], SimulationResult["points"][0]];
    for (const point of result.points) {
      expect(point.stacks).toBe(24);
      expect(point.caught).toBeLessThanOrEqual(point.checkedCheats);
      expect(point.checkedCheats).toBeLessThanOrEqual(point.cheats);
      expect(point.honest.stacks + point.cheater.stacks).toBe(24);
    }
    expect(none.p).toBe(0);
    expect(none.cheats).toBeGreaterThan(0);
    expect(none.caught).toBe(0);
    expect(none.cheater.slashed).toBe(0);
    // Unchecked, a cheater keeps the whole fee and saves the whole cost: R per stack against R − C.
    expect(none.cheater.profitPerStack).toBeCloseTo(options.reward, 6);
    expect(none.honest.profitPerStack).toBeCloseTo(options.reward - options.cost, 6);
    expect(all.p).toBe(1);
    expect(all.cheats).toBeGreaterThan(0);
    expect(all.caught).toBe(all.cheats);
    expect(all.detectionRate).toBe(1);
    // A caught cheater loses all its collateral at once, however many of its stacks were caught with it.
    expect(all.cheater.slashed).toBeGreaterThanOrEqual(options.collateral);
    expect(all.cheater.profitPerStack).toBeLessThan(all.honest.profitPerStack);
    expect(result.crossing.p).toBeDefined();
    expect(result.stacksPerSecond).toBeGreaterThan(0);
    expectWellFormedSvg(profitPlot(result));
  }, 300_000);

  it("catches over-claimed units by the owner's challenge, whatever p", async () => {
    const options = validateSimulationOptions({
      strategy: "over-claim",
      ownerAudit: 1,
      stacks: 16,
      nodes: 5,
      adversary: 0.4,
      pValues: [0],
      concurrency: 8,
      seed: 3,
    });
    const result = await runSimulation(options, { isTTY: false, write: () => true });
    const [point] = result.points as [SimulationResult["points"][0]];
    expect(point.cheats).toBe(point.cheater.stacks);
    expect(point.cheats).toBeGreaterThan(0);
    expect(point.caught).toBe(point.cheats);
    expect(point.checkedCheats).toBe(0);
    expect(point.cheater.slashed).toBeGreaterThanOrEqual(options.collateral);
    expect(point.cheater.profitPerStack).toBeLessThan(point.honest.profitPerStack);
    expect(point.honest.profitPerStack).toBeCloseTo(options.reward - options.cost, 6);
  }, 300_000);

  it("catches over-claimed units by attestation too: attesters count the units they recompute", async () => {
    const options = validateSimulationOptions({
      strategy: "over-claim",
      ownerAudit: 0,
      stacks: 16,
      nodes: 5,
      adversary: 0.4,
      pValues: [1],
      concurrency: 8,
      seed: 4,
    });
    const result = await runSimulation(options, { isTTY: false, write: () => true });
    const [point] = result.points as [SimulationResult["points"][0]];
    expect(point.checkedCheats).toBe(point.cheats);
    expect(point.cheats).toBeGreaterThan(0);
    // Every check catches it, unless all its attesters are cheaters too and copy its sample.
    expect(point.caught).toBeGreaterThan(0);
    expect(point.cheater.slashed).toBeGreaterThanOrEqual(options.collateral);
    expect(point.cheater.profitPerStack).toBeLessThan(point.honest.profitPerStack);
  }, 300_000);

  it("prints the report and writes the plot from the command line", async () => {
    const out = join(root, "plot.svg");
    const run = runCli([
      "econ",
      "simulate",
      "--stacks",
      "4",
      "--nodes",
      "5",
      "--p-points",
      "2",
      "--concurrency",
      "4",
      "--out",
      out,
    ]);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toMatch(/computed p\*: Corollary 1 0\.06/);
    expect(run.stdout()).toMatch(/stacks\/s/);
    expect(run.stderr()).toMatch(/100% 8\/8 stacks/);
    expectWellFormedSvg(readFileSync(out, "utf8"));
  }, 300_000);

  it.each([
    [["--adversary", "1.5"], /--adversary must be strictly between 0 and 1/],
    [["--nodes", "3"], /--nodes must be at least 5/],
    [["--reward", "1", "--cost", "2"], /--reward must exceed --cost/],
    [["--p-values", "0,abc"], /--p-values must be comma-separated numbers/],
    [["--p-values", "0,2"], /--p-values: 2 is not a probability/],
    [["--stacks", "0"], /--stacks must be a whole number/],
    [["--sample-size", "9"], /--sample-size cannot exceed --requests/],
    [["--strategy", "lazy"], /--strategy must be one of cheap-model, over-claim/],
    [["--p-values", Array.from({ length: 25 }, (_, i) => i / 25).join(",")], /--p-values takes at most 24/],
  ])("refuses %j with one line and a non-zero exit", async (args, message) => {
    const run = runCli(["econ", "simulate", ...args]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(message);
    expect(run.stderr().trim().split("\n")).toHaveLength(1);
  });
});
