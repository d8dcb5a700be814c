// econ simulate: stacks settled per second through the deployed contracts, by round size (concurrency).
import { runSimulation, validateSimulationOptions } from "@atoma/simulate";
import { report } from "./lib/report.js";

const quiet = { isTTY: false, write: () => true };
for (const concurrency of [8, 32, 64]) {
  const options = validateSimulationOptions({ stacks: 128, pValues: [0.1], concurrency, seed: 1 });
  const result = await runSimulation(options, quiet);
  report(`simulate_stacks_per_second_c${concurrency}`, result.stacksPerSecond, "stacks/s");
  report(`simulate_tx_per_second_c${concurrency}`, result.transactions / result.seconds, "tx/s");
  report(`simulate_stall_nudges_c${concurrency}`, result.stallNudges, "blocks");
}
