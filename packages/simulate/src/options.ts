import { InvalidInputError } from "@atoma/core";

/** What `atoma econ simulate` runs; amounts are TOMA per stack. */
export interface SimulationOptions {
  /** Stacks bought and settled at each replication rate p. @default 120 */
  stacks: number;
  /** Registered nodes; the cheating ones are replaced by fresh cheaters when slashed. @default 10 */
  nodes: number;
  /** r: the share of the nodes that cheat (rounded to whole nodes, at least one). @default 0.3 */
  adversary: number;
  /** R: what the serving node is paid for a stack. @default 1.2 */
  reward: number;
  /** C: what serving a stack honestly costs the node (recomputing a sampled request costs its share). @default 1 */
  cost: number;
  /** S: each node's collateral. @default 20 */
  collateral: number;
  /** How many replication rates to sweep, from 0 to twice the computed p*. @default 6 */
  pPoints: number;
  /** Explicit replication rates, instead of the sweep. */
  pValues?: number[] | undefined;
  /** Requests in a stack. @default 8 */
  requests: number;
  /** Requests an attester recomputes when a settlement is checked. @default 2 */
  sampleSize: number;
  /** N: attesters sampled when a settlement is checked. @default 1 */
  attesters: number;
  /**
   * How cheaters cheat: answer with a cheaper model (wrong response hashes, which attesters can catch), or
   * over-claim units (settle the whole stack when the buyer used half, which only the owner's challenge catches).
   * @default "cheap-model"
   */
  strategy: Strategy;
  /** Chance that a stack's owner checks the settled units against the responses the node signed. @default 0.5 */
  ownerAudit: number;
  /** Share of a cheater's requests answered by a cheaper model (wrong response hashes). @default 1 */
  cheatShare: number;
  /** Share of C a cheater saves on each request it answers with the cheaper model. @default 1 */
  saving: number;
  /** Stacks bought at once in a round. @default 64 */
  concurrency: number;
  /** Seeds every choice the simulator makes (accounts, which nodes cheat, which requests are falsified). @default 1 */
  seed: number;
  /** Where to write the SVG plot. */
  out?: string | undefined;
}

export const STRATEGIES = ["cheap-model", "over-claim"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const defaultSimulationOptions: SimulationOptions = {
  strategy: "cheap-model",
  ownerAudit: 0.5,
  stacks: 120,
  nodes: 10,
  adversary: 0.3,
  reward: 1.2,
  cost: 1,
  collateral: 20,
  pPoints: 6,
  requests: 8,
  sampleSize: 2,
  attesters: 1,
  cheatShare: 1,
  saving: 1,
  concurrency: 64,
  seed: 1,
};

/** Rates one run sweeps at most (each is a task every node subscribes to). */
export const MAX_RATES = 24;

/** Members of a dispute committee (the deployment's default). */
export const COMMITTEE_SIZE = 3;

export class SimulationOptionsError extends InvalidInputError {
  override name = "SimulationOptionsError";
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new SimulationOptionsError(message);
}

/** How many of the nodes cheat. */
export function cheaterCount(options: Pick<SimulationOptions, "nodes" | "adversary">): number {
  return Math.max(1, Math.round(options.adversary * options.nodes));
}

/** Checks the options together, naming the first one that cannot work. */
export function validateSimulationOptions(input: Partial<SimulationOptions>): SimulationOptions {
  const o: SimulationOptions = { ...defaultSimulationOptions };
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  }
  check(o.reward > 0 && o.cost > 0 && o.collateral > 0, "--reward, --cost and --collateral must be positive");
  check(o.reward > o.cost, "--reward must exceed --cost: an honest node would work at a loss");
  check(o.adversary > 0 && o.adversary < 1, "--adversary must be strictly between 0 and 1");
  check(STRATEGIES.includes(o.strategy), `--strategy must be one of ${STRATEGIES.join(", ")}`);
  check(o.ownerAudit >= 0 && o.ownerAudit <= 1, "--owner-audit must be in [0, 1]");
  check(o.cheatShare > 0 && o.cheatShare <= 1, "--cheat-share must be in (0, 1]");
  check(o.saving > 0 && o.saving <= 1, "--saving must be in (0, 1]");
  check(o.sampleSize <= o.requests, "--sample-size cannot exceed --requests");
  const cheaters = cheaterCount(o);
  check(cheaters < o.nodes, "--adversary leaves no honest node: lower it or add --nodes");
  check(
    o.nodes >= 1 + o.attesters + COMMITTEE_SIZE,
    `--nodes must be at least ${1 + o.attesters + COMMITTEE_SIZE}: a server, ${o.attesters} attester(s) and a committee of ${COMMITTEE_SIZE}`,
  );
  if (o.pValues !== undefined) {
    check(o.pValues.length > 0, "--p-values needs at least one rate");
    // Every rate is a task each node subscribes to, and a node may hold 32 subscriptions.
    check(o.pValues.length <= MAX_RATES, `--p-values takes at most ${MAX_RATES} rates`);
    for (const p of o.pValues) check(p >= 0 && p <= 1, `--p-values: ${p} is not a probability in [0, 1]`);
    o.pValues = [...new Set(o.pValues)].sort((a, b) => a - b);
  }
  return o;
}
