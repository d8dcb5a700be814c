import { describe, expect, it } from "vitest";
import { runCli } from "./cliProcess.js";

describe("atoma econ", () => {
  it("prints the whitepaper's replication rate and n-node failure odds", async () => {
    const run = runCli(["econ", "--reward", "1.2", "--collateral", "250", "--adversary", "0.5"]);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain("Corollary 1   p > 0.007962");
    expect(run.stdout()).toContain("M = r^n = 0.0009766");
  });

  it("answers JSON with absolute amounts when --cost is given", async () => {
    const run = runCli([
      "econ",
      "--reward",
      "12",
      "--cost",
      "10",
      "--collateral",
      "2500",
      "--adversary",
      "0.5",
      "--json",
    ]);
    expect(await run.exited).toBe(0);
    const result = JSON.parse(run.stdout()) as { corollaryMinimum: number; consensusFailure: number };
    expect(result.corollaryMinimum).toBeCloseTo(0.00796, 5);
  });

  it("prints p* under today's public draw and under private self-selection, with the no-attester odds", async () => {
    const run = runCli([
      "econ",
      "--reward",
      "1.2",
      "--collateral",
      "250",
      "--adversary",
      "0.5",
      "--attesters",
      "3",
    ]);
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain("n = 10 eligible nodes, m = 5 of them the cheater's");
    expect(run.stdout()).toMatch(/public draw of N \(today\) +p\* = 0\.004326/);
    expect(run.stdout()).toMatch(/private VRF self-selection +p\* = 0\.002635/);
    // Seats land on-chain as they come: a cheater's node that seats last when no honest one did takes W2, not W1.
    expect(run.stdout()).toMatch(/private, last-mover colluders +p\* = 0\.002648/);
    expect(run.stdout()).toContain("no attester (1 - N/n)^n = 0.02825, bound e^(-N) = 0.04979");
    const json = runCli([
      "econ",
      "--reward",
      "1.2",
      "--collateral",
      "250",
      "--adversary",
      "0.5",
      "--attesters",
      "3",
      "--json",
    ]);
    expect(await json.exited).toBe(0);
    const { selection } = JSON.parse(json.stdout()) as {
      selection: {
        privateThreshold: number;
        privateThresholdLastMover: number;
        noAttesterProbability: number;
        noAttesterBound: number;
        mustCheck: { escapeWithPublicDraw: number; escapeWithTopUp: number };
      };
    };
    expect(selection.privateThreshold).toBeCloseTo(0.002635, 6);
    expect(selection.privateThresholdLastMover).toBeGreaterThan(selection.privateThreshold);
    expect(selection.noAttesterProbability).toBeLessThanOrEqual(selection.noAttesterBound);
    // A last-moving cheater: the top-up to N that the contracts do leaves it less than a draw on nobody seated.
    expect(selection.mustCheck.escapeWithTopUp).toBeLessThan(selection.mustCheck.escapeWithPublicDraw);
  });

  it("econ simulate --private-selection draws seeded attester counts and agrees with the formulas", async () => {
    const args = [
      "econ",
      "simulate",
      "--private-selection",
      "--attesters",
      "2",
      "--lazy",
      "1",
      "--settlements",
      "600",
      "--p-values",
      "0.3",
      "--json",
    ];
    const [first, second] = [runCli(args), runCli(args)];
    expect(await first.exited).toBe(0);
    expect(await second.exited).toBe(0);
    expect(first.stdout()).toBe(second.stdout());
    const result = JSON.parse(first.stdout()) as {
      consistent: boolean;
      points: { p: number; settlements: number }[];
    };
    expect(result.consistent).toBe(true);
    expect(result.points).toMatchObject([{ p: 0.3, settlements: 600 }]);
  });

  it.each([
    [["--reward", "1", "--collateral", "250", "--adversary", "0.5"], /reward must exceed cost/],
    [["--reward", "1.2", "--collateral", "250", "--adversary", "1.5"], /adversary share/],
    [["--reward", "abc", "--collateral", "250", "--adversary", "0.5"], /--reward must be a number/],
    [["--reward", "1.2", "--collateral", "250"], /--adversary/],
  ])("refuses %j with one line and a non-zero exit", async (args, message) => {
    const run = runCli(["econ", ...args]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toMatch(message);
  });
});
