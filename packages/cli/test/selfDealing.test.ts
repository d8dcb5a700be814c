import { selfDealingBound } from "@atoma/core";
import {
  formatSelfDealing,
  runSelfDealing,
  type SelfDealingResult,
  validateSelfDealingOptions,
} from "@atoma/simulate";
import { describe, expect, it } from "vitest";
import { runCli } from "./cliProcess.js";

/** What the rule lets the best self-dealer keep of an honest staker's emission: (m − 1)·b / (m·b + y). */
function bound(r: SelfDealingResult): number {
  return selfDealingBound({
    burn: r.parameters.feeBurnBps / 10_000,
    emissionPerBurn: r.parameters.maxEmissionPerBurnBps / 10_000,
    stakeYield: r.parameters.maxStakeYieldBps / 10_000,
  }).shareOfHonest;
}

function expectSelfDealingLoses(r: SelfDealingResult): void {
  expect(r.honest.emission).toBeCloseTo((r.honest.stake * r.parameters.maxStakeYieldBps) / 10_000, 6);
  for (const dealer of r.dealers) {
    // Its fees come back less the burn: all it earns is emission, less what it burned for it.
    expect(dealer.gain).toBeCloseTo(dealer.emission - dealer.burned, 6);
    // Emission per burn is at most 1×: no split gets back more than it burned.
    expect(dealer.emission).toBeLessThanOrEqual(dealer.burned + 1e-9);
    expect(dealer.gain).toBeLessThanOrEqual(1e-9);
    expect(dealer.gain).toBeLessThan(r.honest.emission);
    expect(dealer.gain).toBeLessThan(r.honest.gain);
    expect(dealer.emission).toBeLessThan(r.pool / 100);
  }
  expect(r.bestEmissionRatio).toBeLessThanOrEqual(1e-9);
  expect(r.bestEmissionRatio).toBeCloseTo(bound(r), 3);
}

describe("atoma econ simulate --self-dealing through the deployed contracts", () => {
  it("at the default parameters, a self-dealer earns less than the same capital staked honestly", async () => {
    const result = await runSelfDealing(validateSelfDealingOptions({ points: 2 }));
    expect(result.parameters).toEqual({
      feeBurnBps: 500,
      maxEmissionPerBurnBps: 10_000,
      maxStakeYieldBps: 100,
    });
    expectSelfDealingLoses(result);
  }, 300_000);

  it("at the worst parameters governance may set, too; and prints its report from the command line", async () => {
    const run = runCli(["econ", "simulate", "--self-dealing", "--worst", "--wash-points", "2", "--json"]);
    expect(await run.exited).toBe(0);
    const result = JSON.parse(run.stdout()) as SelfDealingResult;
    expect(result.parameters).toEqual({
      feeBurnBps: 5_000,
      maxEmissionPerBurnBps: 10_000,
      maxStakeYieldBps: 1_000,
    });
    expectSelfDealingLoses(result);
    expect(formatSelfDealing(result)).toMatch(/No self-dealer gains/);
  }, 300_000);

  it("refuses a bad --capital with one line and a non-zero exit", async () => {
    const run = runCli(["econ", "simulate", "--self-dealing", "--capital", "10"]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(/--capital must be from 2000/);
    expect(run.stderr().trim().split("\n")).toHaveLength(1);
  });
});
