import {
  buyStack,
  type ChainContext,
  claimEmission,
  claimNodeFees,
  createTask,
  devParameters,
  emissionBounds,
  ensureAllowance,
  finalizeSettlement,
  getNode,
  SecurityLevel,
  submitSettlement,
  TaskRole,
} from "@atoma/chain";
import { type DevAccount, startDevnet } from "@atoma/chain/devnet";
import { InvalidInputError } from "@atoma/core";
import { formatEther, keccak256, maxUint256, parseEther, stringToBytes } from "viem";
import { seededPrivateKey } from "./random.js";

/** What `atoma econ simulate --self-dealing` plays. */
export interface SelfDealingOptions {
  /** TOMA each side starts with: the honest staker stakes it all, the self-dealer splits it. @default 20000 */
  capital: number;
  /**
   * How many splits to try: the self-dealer cycles 1/(2n) … 1/2 of its capital through itself (and, first, its
   * best split, where its two emission caps meet). @default 6
   */
  points: number;
  /** The honest node's real users' fees in the epoch, TOMA. @default enough to carry it to its stake cap */
  demand?: number | undefined;
  /** Play at the worst parameters governance may set (most burn, most emission per burn and per stake). */
  worst: boolean;
  seed: number;
}

export const defaultSelfDealingOptions: SelfDealingOptions = {
  capital: 20_000,
  points: 6,
  worst: false,
  seed: 1,
};

export class SelfDealingOptionsError extends InvalidInputError {
  override name = "SelfDealingOptionsError";
}

export function validateSelfDealingOptions(
  input: {
    [K in keyof SelfDealingOptions]?: SelfDealingOptions[K] | undefined;
  },
): SelfDealingOptions {
  const o: SelfDealingOptions = { ...defaultSelfDealingOptions };
  for (const [key, value] of Object.entries(input))
    if (value !== undefined) (o as unknown as Record<string, unknown>)[key] = value;
  if (!(o.capital >= 2_000 && o.capital <= 1e9))
    throw new SelfDealingOptionsError(
      "--capital must be from 2000 to 1e9 TOMA (twice the minimum stake at least)",
    );
  if (!Number.isInteger(o.points) || o.points < 1 || o.points > 12)
    throw new SelfDealingOptionsError("--points must be a whole number from 1 to 12");
  if (o.demand !== undefined && !(o.demand > 0 && o.demand <= 1e9))
    throw new SelfDealingOptionsError("--demand must be a positive amount of TOMA");
  return o;
}

/** The parameters of the run: the wash-trading ones, at the defaults or at their bounds. */
export interface WashParameters {
  feeBurnBps: number;
  maxEmissionPerBurnBps: number;
  maxStakeYieldBps: number;
}

/** One self-dealer: what it put through itself, what it staked, and what it ended the epoch with. */
export interface DealerOutcome {
  washFees: number;
  stake: number;
  burned: number;
  emission: number;
  gain: number;
}

export interface SelfDealingResult {
  options: SelfDealingOptions;
  parameters: WashParameters;
  /** The epoch's node emission pool, TOMA. */
  pool: number;
  honest: { stake: number; demand: number; emission: number; gain: number };
  dealers: DealerOutcome[];
  /** The best self-dealer's gain over the honest staker's, and over the honest staker's emission alone. */
  bestRatio: number;
  bestEmissionRatio: number;
}

const PRICE = parseEther("1"); // per million units: a stack's value in TOMA is its units / 1e6
const toma = (wei: bigint) => Number(formatEther(wei));
const unitsOf = (value: bigint) => (value * 1_000_000n) / PRICE;

/**
 * One epoch through the deployed contracts on a fresh anvil. An honest node stakes all its capital and serves
 * real users' stacks; each self-dealer (one per split) stakes the rest of the same capital, creates a task of
 * its own, is its only subscriber, buys stacks from itself with what it did not stake and settles them in full.
 * After the epoch each claims its fees and its emission; a side's gain is what it then holds (tokens, collateral,
 * balances) less what it started with. Nothing here computes a payout: the contracts do.
 */
export async function runSelfDealing(o: SelfDealingOptions): Promise<SelfDealingResult> {
  const parameters: WashParameters = o.worst
    ? {
        feeBurnBps: emissionBounds.maxFeeBurnBps,
        maxEmissionPerBurnBps: emissionBounds.maxEmissionPerBurnBps,
        maxStakeYieldBps: emissionBounds.maxStakeYieldBps,
      }
    : {
        feeBurnBps: devParameters.vault.feeBurnBps,
        maxEmissionPerBurnBps: devParameters.emission.maxEmissionPerBurnBps,
        maxStakeYieldBps: devParameters.emission.maxStakeYieldBps,
      };
  const capital = parseEther(String(o.capital));
  const minStake = capital / 2n;
  const echelon = { echelon: 1, fingerprint: keccak256(stringToBytes("atoma-sim echelon")) };
  const network = await startDevnet({
    pollingInterval: 10,
    parameters: {
      token: { genesisSupply: 10n ** 36n },
      node: { minCollateral: minStake },
      vault: { feeBurnBps: parameters.feeBurnBps },
      emission: {
        maxEmissionPerBurnBps: parameters.maxEmissionPerBurnBps,
        maxStakeYieldBps: parameters.maxStakeYieldBps,
      },
    },
    echelons: [echelon],
  });
  try {
    const { admin, advance } = network;
    const { addresses, contracts } = network.deployment;
    /** A side of the game: its key follows from the seed and its label, so every run has the same ones. */
    const member = (label: string, amount: bigint) =>
      network.account(amount, {
        privateKey: seededPrivateKey(o.seed, `self-dealing-${label}`),
        eth: parseEther("1000"),
      });
    const holdings = async (ctx: ChainContext, nodeId: bigint) => {
      const who = ctx.walletClient.account.address;
      const [balance, node, owed] = await Promise.all([
        contracts.token.read.balanceOf([who]),
        getNode(ctx, nodeId),
        contracts.vault.read.balanceOf([who]),
      ]);
      return balance + node.collateral + owed;
    };

    // A model at no fee: neither side pays anyone else, so the comparison is only burn against emission.
    const { modelId } = await network.registerModel({
      name: "atoma-wash",
      owner: (await member("model-owner", parseEther("100"))).ctx,
      weightsRoot: keccak256(stringToBytes("atoma-wash weights")),
      feeBps: 0,
    });
    /** Registers the side as a node signing with its own key, on a task of its own with its whole stake bonded. */
    const join = async (side: DevAccount, stake: bigint) => {
      const node = await network.addNode({
        operator: side,
        signsAsOperator: true,
        url: "http://127.0.0.1/self-dealing",
        echelon: echelon.echelon,
        collateral: stake,
      });
      const { taskId } = await createTask(side.ctx, {
        modelId,
        role: TaskRole.Chat,
        securityLevel: SecurityLevel.None,
      });
      await network.subscribe(node, taskId, {
        pricePerMillion: PRICE,
        capacity: 10n ** 15n,
        collateral: stake,
      });
      return { nodeId: node.nodeId, taskId };
    };
    /**
     * Buys `fees` of units on the node's task, in stacks its subscription can back, and settles each in full
     * (a settlement frees the capacity at once); returns the stacks, finalized together after the window.
     */
    const trade = async (
      buyer: ChainContext,
      node: ChainContext,
      taskId: bigint,
      fees: bigint,
      perStack: bigint,
    ) => {
      const stackIds: bigint[] = [];
      for (let left = fees; left > 0n; ) {
        const value = left < perStack ? left : perStack;
        left -= value;
        const units = unitsOf(value);
        const stack = await buyStack(buyer, { taskId, units, maxPricePerMillion: PRICE, duration: 3_600n });
        await submitSettlement(node, {
          stackId: stack.stackId,
          root: keccak256(stringToBytes(`stack ${stack.stackId}`)),
          units,
          requestCount: 1n,
          transcriptId: `0x${"00".repeat(32)}`,
        });
        stackIds.push(stack.stackId);
      }
      return stackIds;
    };

    // The honest node's real demand: by default what carries it to its stake cap, with a tenth to spare.
    const demand =
      o.demand !== undefined
        ? parseEther(String(o.demand))
        : (capital * BigInt(parameters.maxStakeYieldBps) * 10_000n * 11n) /
          (BigInt(parameters.maxEmissionPerBurnBps) * BigInt(Math.max(1, parameters.feeBurnBps)) * 10n);
    const honestSide = await member("honest", capital);
    const honestCtx = honestSide.ctx;
    const honest = await join(honestSide, capital);
    const buyer = (await member("buyer", demand + parseEther("1"))).ctx;
    await ensureAllowance(buyer, addresses.AtomaVault, maxUint256);
    const honestStart = await holdings(honestCtx, honest.nodeId);

    const dealers: { ctx: ChainContext; nodeId: bigint; taskId: bigint; washFees: bigint; start: bigint }[] =
      [];
    // The sweep, and first the self-dealer's best split: where its two caps meet, m·b·F = y·(C − F).
    const burnTimesCap = BigInt(parameters.maxEmissionPerBurnBps) * BigInt(parameters.feeBurnBps);
    const yieldBps = BigInt(parameters.maxStakeYieldBps) * 10_000n;
    const best = (capital * yieldBps) / (burnTimesCap + yieldBps);
    const splits = [best < minStake ? best : minStake];
    for (let k = 1; k <= o.points; k++) splits.push((capital * BigInt(k)) / BigInt(2 * o.points));
    for (const [k, split] of splits.entries()) {
      const washFees = (split / 10n ** 12n) * 10n ** 12n;
      const dealer = await member(`dealer-${k}`, capital);
      const { ctx } = dealer;
      const { nodeId, taskId } = await join(dealer, capital - washFees);
      await ensureAllowance(ctx, addresses.AtomaVault, maxUint256);
      dealers.push({ ctx, nodeId, taskId, washFees, start: await holdings(ctx, nodeId) });
    }

    await advance(devParameters.epochLength);
    const epoch = await contracts.nodeRegistry.read.currentEpoch();
    const settled = await trade(buyer, honestCtx, honest.taskId, demand, capital / 2n);
    for (const d of dealers)
      settled.push(...(await trade(d.ctx, d.ctx, d.taskId, d.washFees, capital - d.washFees)));
    await advance(devParameters.settlement.disputeWindow + 1n);
    await finalizeSettlement(admin, { stackIds: settled });
    await advance(devParameters.epochLength);

    const settle = async (ctx: ChainContext, nodeId: bigint) => {
      await claimNodeFees(ctx, { nodeId, epochs: [epoch] });
      return (await claimEmission(ctx, { kind: "node", nodeId, epoch })).amount;
    };
    const honestEmission = await settle(honestCtx, honest.nodeId);
    const honestGain = (await holdings(honestCtx, honest.nodeId)) - honestStart;
    const outcomes: DealerOutcome[] = [];
    for (const d of dealers) {
      const emission = await settle(d.ctx, d.nodeId);
      outcomes.push({
        washFees: toma(d.washFees),
        stake: toma(capital - d.washFees),
        burned: toma(await contracts.vault.read.nodeBurned([d.nodeId, epoch])),
        emission: toma(emission),
        gain: toma((await holdings(d.ctx, d.nodeId)) - d.start),
      });
    }
    const emission = await contracts.emissionSchedule.read.emissionFor([epoch]);
    const pool = (emission * BigInt(devParameters.emission.nodeShareBps)) / 10_000n;
    const honestResult = {
      stake: toma(capital),
      demand: toma(demand),
      emission: toma(honestEmission),
      gain: toma(honestGain),
    };
    return {
      options: o,
      parameters,
      pool: toma(pool),
      honest: honestResult,
      dealers: outcomes,
      bestRatio: Math.max(...outcomes.map((d) => d.gain)) / honestResult.gain,
      bestEmissionRatio: Math.max(...outcomes.map((d) => d.gain)) / honestResult.emission,
    };
  } finally {
    await network.stop();
  }
}

const f = (value: number) => value.toFixed(2);

/** The report `atoma econ simulate --self-dealing` prints. */
export function formatSelfDealing(r: SelfDealingResult): string {
  const p = r.parameters;
  const lines = [
    `Self-dealing through the deployed contracts, one epoch${r.options.worst ? ", at the worst parameters governance may set" : ", at the default parameters"}:`,
    `each fee burns ${p.feeBurnBps / 100} %; a node's emission is at most ${p.maxEmissionPerBurnBps / 10_000}× what its fees burned and ${p.maxStakeYieldBps / 100} % of its stake; node pool ${f(r.pool)} TOMA`,
    `honest staker: ${f(r.honest.stake)} TOMA staked, ${f(r.honest.demand)} TOMA of real users' fees → emission ${f(r.honest.emission)}, gain ${f(r.honest.gain)} TOMA`,
    "",
    "  self-paid fees     staked   burned   emission       gain   / honest gain   / honest emission",
  ];
  for (const d of r.dealers)
    lines.push(
      [
        f(d.washFees).padStart(16),
        f(d.stake).padStart(10),
        f(d.burned).padStart(8),
        f(d.emission).padStart(10),
        f(d.gain).padStart(10),
        (d.gain / r.honest.gain).toFixed(3).padStart(15),
        (d.gain / r.honest.emission).toFixed(3).padStart(19),
      ].join(" "),
    );
  const bestGain = Math.max(...r.dealers.map((d) => d.gain));
  lines.push(
    "",
    bestGain <= 1e-9
      ? `No self-dealer gains: its emission never exceeds what its fees burned (best ${f(bestGain)} TOMA), while ` +
          `the same capital staked honestly earns ${f(r.honest.gain)} TOMA (${f(r.honest.emission)} of it emission).`
      : r.bestEmissionRatio < 1
        ? `The best self-dealer earns ${(r.bestRatio * 100).toFixed(1)} % of what the same capital earns staked honestly ` +
          `(${(r.bestEmissionRatio * 100).toFixed(1)} % of its emission alone).`
        : `A self-dealer earned ${(r.bestEmissionRatio * 100).toFixed(1)} % of the honest staker's emission: wash trading pays here.`,
  );
  return `${lines.join("\n")}\n`;
}
