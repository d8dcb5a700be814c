import { formatEther, parseEther } from "viem";
import { type CrossingEstimate, estimateCrossing } from "./crossing.js";
import { type ReplicationTargets, replicationTargets, sweepRates } from "./economics.js";
import { collateralOf, creditedOver, currentEpoch } from "./nodeLedger.js";
import { cheaterCount, type SimulationOptions } from "./options.js";
import { createProgress, type ProgressSink } from "./progress.js";
import { SeededRandom } from "./random.js";
import { runRound, type StackOutcome } from "./runRound.js";
import { type SimNode, startSimNetwork } from "./simNetwork.js";
import { wilsonInterval } from "./statistics.js";

const EPOCH_SECONDS = 3_600;

/** One group's (honest or cheating nodes') realized totals at one rate, TOMA. */
export interface GroupTotals {
  nodes: number;
  stacks: number;
  /** Credited by the vault: fees, attester pay, shares of others' slashed collateral. */
  credited: number;
  /** Collateral lost to slashing. */
  slashed: number;
  /** Modelled compute cost: serving, attesting, committee votes. */
  cost: number;
  profit: number;
  profitPerStack: number;
}

export interface PointResult {
  p: number;
  stacks: number;
  /** Stacks a cheater falsified at least one answer of. */
  cheats: number;
  /** Of those, settlements the contract sampled for attestation. */
  checkedCheats: number;
  /** Of those, settlements that failed verification (the cheater was slashed). */
  caught: number;
  detectionRate: number;
  detectionInterval: { low: number; high: number };
  disputes: number;
  honest: GroupTotals;
  cheater: GroupTotals;
}

export interface SimulationResult {
  options: SimulationOptions;
  cheaters: number;
  targets: ReplicationTargets;
  points: PointResult[];
  crossing: CrossingEstimate;
  stacks: number;
  transactions: number;
  seconds: number;
  stacksPerSecond: number;
  /** Empty blocks mined to end stalls (a transaction left pending, or a receipt wait that missed its block). */
  stallNudges: number;
}

const toma = (wei: bigint) => Number(formatEther(wei));

/**
 * Runs the whole sweep on a fresh anvil and returns the figures; progress goes to `progressSink`.
 *
 * Nothing of the protocol is re-implemented: which node serves a stack, whether a settlement is checked, who
 * attests, which requests are sampled, who sits on a committee, who is slashed and what everyone is paid are
 * the contracts' doing; the simulator only plays the actors (buyers, honest and cheating nodes) and models the
 * compute cost, which the chain does not see. Those draws come from `block.prevrandao`, which anvil picks at
 * random per block with no way to set it, so `--seed` fixes the simulator's choices but not the contracts'.
 * A caught cheater is barred for good; its slot re-registers a fresh cheater, so the share r holds.
 */
export async function runSimulation(
  o: SimulationOptions,
  progressSink: ProgressSink,
): Promise<SimulationResult> {
  const targets = replicationTargets(o, cheaterCount(o));
  const rates = sweepRates(o, targets.corollary);
  const random = new SeededRandom(o.seed);
  const started = performance.now();
  const network = await startSimNetwork({
    seed: o.seed,
    collateral: parseEther(String(o.collateral)),
    stackFee: parseEther(String(o.reward)),
    buyers: o.concurrency,
  });
  try {
    const cheaters = cheaterCount(o);
    const cheatingSlots = new Set(random.shuffle([...Array(o.nodes).keys()]).slice(0, cheaters));
    const generation = new Map<number, number>();
    let nodes = new Map<bigint, SimNode>();
    for (let slot = 0; slot < o.nodes; slot++) {
      const node = await network.addNode(slot, cheatingSlots.has(slot), 0, undefined);
      generation.set(slot, 0);
      nodes.set(node.nodeId, node);
    }
    await network.advance(EPOCH_SECONDS);
    const disputeWindow = Number((await network.deployment.contracts.settlementManager.read.params())[3]);

    const progress = createProgress(rates.length * o.stacks, progressSink);
    let done = 0;
    let transactions = 0;
    const points: PointResult[] = [];
    for (const p of rates) {
      const taskId = await network.createTaskAt(p, o.attesters, o.sampleSize);
      await Promise.all([...nodes.values()].map((node) => network.subscribeNode(node, taskId)));
      // Each rate gets epochs of its own: the vault's per-epoch ledger then holds only this rate's credits.
      await network.advance(EPOCH_SECONDS);
      const firstEpoch = await currentEpoch(network);
      const startCollateral = new Map<bigint, bigint>();
      await Promise.all(
        [...nodes.keys()].map(async (id) => startCollateral.set(id, await collateralOf(network, id))),
      );
      const participants = new Map(nodes);
      const costs = new Map<bigint, number>();
      const outcomes: StackOutcome[] = [];
      let disputes = 0;
      for (let left = o.stacks; left > 0; ) {
        const round = await runRound(
          network,
          nodes,
          {
            taskId,
            strategy: o.strategy,
            ownerAudit: o.ownerAudit,
            stacks: Math.min(left, o.concurrency),
            requests: o.requests,
            cheatShare: o.cheatShare,
            cost: o.cost,
            saving: o.saving,
            disputeWindow,
          },
          random,
          costs,
        );
        left -= round.stacks.length;
        done += round.stacks.length;
        transactions += round.transactions;
        outcomes.push(...round.stacks);
        disputes += round.stacks.filter((s) => s.disputed).length;
        if (round.slashed.length > 0) {
          nodes = new Map(nodes);
          for (const id of round.slashed) {
            const gone = nodes.get(id);
            if (!gone) continue;
            nodes.delete(id);
            const next = (generation.get(gone.slot) ?? 0) + 1;
            generation.set(gone.slot, next);
            const fresh = await network.addNode(gone.slot, gone.cheater, next, taskId);
            startCollateral.set(fresh.nodeId, parseEther(String(o.collateral)));
            nodes.set(fresh.nodeId, fresh);
            participants.set(fresh.nodeId, fresh);
          }
          // Fresh nodes are eligible from the next epoch.
          await network.advance(EPOCH_SECONDS);
        }
        progress.update(done, `(p = ${p.toPrecision(3)})`);
      }
      const lastEpoch = await currentEpoch(network);
      const epochs: bigint[] = [];
      for (let e = firstEpoch; e <= lastEpoch; e++) epochs.push(e);
      const totals = { honest: emptyTotals(), cheater: emptyTotals() };
      await Promise.all(
        [...participants.values()].map(async (node) => {
          const [credited, collateral] = await Promise.all([
            creditedOver(network, node.nodeId, epochs),
            collateralOf(network, node.nodeId),
          ]);
          const group = node.cheater ? totals.cheater : totals.honest;
          group.nodes += 1;
          group.credited += toma(credited);
          group.slashed += toma(startCollateral.get(node.nodeId)! - collateral);
          group.cost += costs.get(node.nodeId) ?? 0;
        }),
      );
      for (const s of outcomes) (s.cheater ? totals.cheater : totals.honest).stacks += 1;
      for (const group of [totals.honest, totals.cheater]) {
        group.profit = group.credited - group.slashed - group.cost;
        group.profitPerStack = group.stacks > 0 ? group.profit / group.stacks : 0;
      }
      const cheats = outcomes.filter((s) => s.cheated);
      const caught = cheats.filter((s) => s.failed).length;
      points.push({
        p,
        stacks: outcomes.length,
        cheats: cheats.length,
        checkedCheats: cheats.filter((s) => s.sampled).length,
        caught,
        detectionRate: cheats.length > 0 ? caught / cheats.length : 0,
        // Without sampling nothing can be detected: no sampling error to state.
        detectionInterval: p === 0 ? { low: 0, high: 0 } : wilsonInterval(caught, cheats.length),
        disputes,
        ...totals,
      });
    }
    progress.finish();
    const seconds = (performance.now() - started) / 1000;
    const stacks = points.reduce((sum, point) => sum + point.stacks, 0);
    return {
      options: o,
      cheaters,
      targets,
      points,
      crossing: estimateCrossing(points),
      stacks,
      transactions,
      seconds,
      stacksPerSecond: stacks / seconds,
      stallNudges: network.nudges(),
    };
  } finally {
    await network.stop();
  }
}

function emptyTotals(): GroupTotals {
  return { nodes: 0, stacks: 0, credited: 0, slashed: 0, cost: 0, profit: 0, profitPerStack: 0 };
}
