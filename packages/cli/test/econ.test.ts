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
