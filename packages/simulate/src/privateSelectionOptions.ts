import { cheaterCount, defaultSimulationOptions, SimulationOptionsError } from "./options.js";
import type { PrivateSelectionOptions } from "./privateSelection.js";

export const defaultPrivateSelectionOptions: PrivateSelectionOptions = {
  nodes: defaultSimulationOptions.nodes,
  adversary: defaultSimulationOptions.adversary,
  attesters: defaultSimulationOptions.attesters,
  reward: defaultSimulationOptions.reward,
  cost: defaultSimulationOptions.cost,
  collateral: defaultSimulationOptions.collateral,
  saving: defaultSimulationOptions.saving,
  cheatShare: defaultSimulationOptions.cheatShare,
  seed: defaultSimulationOptions.seed,
  settlements: 4_000,
  lazy: 0,
  vrf: false,
};

function check(ok: boolean, message: string): void {
  if (!ok) throw new SimulationOptionsError(message);
}

/** Checks the options of the private-selection draw together, naming the first one that cannot work. */
export function validatePrivateSelectionOptions(
  input: {
    [K in keyof PrivateSelectionOptions]?: PrivateSelectionOptions[K] | undefined;
  },
): PrivateSelectionOptions {
  const o: PrivateSelectionOptions = { ...defaultPrivateSelectionOptions };
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  }
  check(
    o.reward > o.cost && o.cost > 0 && o.collateral > 0,
    "--reward must exceed --cost, both and --collateral positive",
  );
  check(o.adversary > 0 && o.adversary < 1, "--adversary must be strictly between 0 and 1");
  check(
    Number.isSafeInteger(o.settlements) && o.settlements >= 1,
    "--settlements must be a positive whole number",
  );
  check(Number.isSafeInteger(o.lazy) && o.lazy >= 0, "--lazy must be a whole number");
  const honest = o.nodes - cheaterCount(o) - o.lazy;
  check(
    honest >= o.attesters,
    `--nodes ${o.nodes} leaves ${honest} diligent honest node(s) for ${o.attesters} attester(s): add nodes, lower --adversary or --lazy`,
  );
  if (o.pValues !== undefined) {
    check(o.pValues.length > 0, "--p-values needs at least one rate");
    for (const p of o.pValues) check(p > 0 && p <= 1, `--p-values: ${p} is not a rate in (0, 1]`);
  }
  return o;
}
