import { buyStack, finalizeSettlement, SettlementPhase, submitSettlements } from "@atoma/chain";
import { InvalidInputError } from "@atoma/core";
import { keccak256, stringToBytes } from "viem";
import { attestAndReveal, type RoundActors } from "./attestation.js";
import { voteAndResolve } from "./committeeVotes.js";
import { challengeOverClaims } from "./ownerAudit.js";
import type { SeededRandom } from "./random.js";
import { type ServedStack, sampledEntries, serveStack } from "./servedStack.js";
import { type SimNetwork, type SimNode, STACK_UNITS } from "./simNetwork.js";

/** Gas for `settleMany`: enough for every settlement being sampled (rounds buy at most 64 stacks). */
const SETTLE_GAS_BASE = 200_000n;
const SETTLE_GAS_EACH = 400_000n;

export interface RoundSettings {
  taskId: bigint;
  strategy: "cheap-model" | "over-claim";
  /** Chance that an owner checks the settled units against its signed responses. */
  ownerAudit: number;
  stacks: number;
  requests: number;
  cheatShare: number;
  /** Compute cost of a stack, TOMA. */
  cost: number;
  saving: number;
  /** Seconds from a settlement's acceptance to the end of its challenge window. */
  disputeWindow: number;
}

/** One stack's fate in a round. */
export interface StackOutcome {
  stackId: bigint;
  server: bigint;
  cheater: boolean;
  /** The server answered at least one request with the cheaper model. */
  cheated: boolean;
  sampled: boolean;
  disputed: boolean;
  /** The settlement failed verification: the cheat was caught. */
  failed: boolean;
}

export interface RoundOutcome {
  stacks: StackOutcome[];
  /** Nodes slashed for fraud this round. */
  slashed: bigint[];
  transactions: number;
}

/**
 * One round through the deployed contracts: buyers buy stacks (the StackManager draws the servers), every server
 * settles its stacks in one `settleMany`, sampled attesters commit what they recomputed (a cheater's own attesters
 * collude and copy its answers), servers reveal, disputes get a committee that votes what it recomputes, then
 * time moves past the challenge window and accepted settlements are finalized. Compute costs go to `costs`.
 */
export async function runRound(
  network: SimNetwork,
  nodes: ReadonlyMap<bigint, SimNode>,
  settings: RoundSettings,
  random: SeededRandom,
  costs: Map<bigint, number>,
): Promise<RoundOutcome> {
  const { contracts } = network.deployment;
  const spend = (nodeId: bigint, amount: number) => costs.set(nodeId, (costs.get(nodeId) ?? 0) + amount);
  const node = (nodeId: bigint) => {
    const found = nodes.get(nodeId);
    if (!found) throw new InvalidInputError(`node ${nodeId} is not part of the simulation`);
    return found;
  };
  let transactions = 0;

  const overClaiming = settings.strategy === "over-claim";
  // Over-claim runs buy stacks twice the size buyers use: an honest node settles what was used, a cheater all.
  const boughtUnits = overClaiming ? 2n * STACK_UNITS : STACK_UNITS;
  const claimed = (server: bigint) => (overClaiming && node(server).cheater ? 2n * STACK_UNITS : STACK_UNITS);
  const buyers = network.buyers.slice(0, settings.stacks);
  const bought = await Promise.all(
    buyers.map(async (buyer) => {
      const stack = await buyStack(buyer, {
        taskId: settings.taskId,
        units: boughtUnits,
        maxPricePerMillion: 2n ** 127n,
        duration: 86_400n,
      });
      return { buyer, stackId: stack.stackId, server: stack.nodeId };
    }),
  );
  // Each purchase is two transactions: the purchase, then the draw of its node in a later block.
  transactions += 2 * bought.length;

  const served = new Map<bigint, ServedStack>();
  for (const stack of bought) {
    // An over-claimer answers honestly: its cheat is in the units it settles.
    const falsifies = node(stack.server).cheater && !overClaiming;
    // An over-claimer's leaves carry the units it bills, so that its tree agrees with what it settles.
    const work = serveStack(
      stack.stackId,
      settings.requests,
      settings.cheatShare,
      falsifies ? random : undefined,
      {
        used: STACK_UNITS,
        billed: claimed(stack.server),
      },
    );
    served.set(stack.stackId, work);
    spend(stack.server, settings.cost * (1 - (settings.saving * work.falsified) / settings.requests));
  }

  const byServer = new Map<bigint, bigint[]>();
  for (const stack of bought)
    byServer.set(stack.server, [...(byServer.get(stack.server) ?? []), stack.stackId]);
  const settled = await Promise.all(
    [...byServer.entries()].map(([server, stackIds]) =>
      submitSettlements(
        node(server).ctx,
        stackIds.map((stackId) => ({
          stackId,
          root: served.get(stackId)!.tree.root,
          units: claimed(server),
          requestCount: BigInt(settings.requests),
          transcriptId: keccak256(stringToBytes(`transcript of ${stackId}`)),
        })),
        { gas: SETTLE_GAS_BASE + SETTLE_GAS_EACH * BigInt(stackIds.length) },
      ),
    ),
  );
  // One settleMany per server, then one attester draw per verified settlement, in later blocks.
  transactions += settled.length + settled.reduce((sum, s) => sum + s.drawn.length, 0);
  const sampledIds = new Set(settled.flatMap((s) => s.sampled));

  const checks = await Promise.all(
    bought
      .filter((s) => sampledIds.has(s.stackId))
      .map(async (s) => {
        const [attesters, indices] = await Promise.all([
          contracts.settlementManager.read.attestersOf([s.stackId]),
          contracts.settlementManager.read.sampledIndices([s.stackId]),
        ]);
        return {
          ...s,
          attesters: attesters.map((a) => a.nodeId),
          indices: [...indices],
          entries: sampledEntries(served.get(s.stackId)!, indices),
        };
      }),
  );

  const actors: RoundActors = { node, spend, costPerRequest: settings.cost / settings.requests };
  const disputes = await attestAndReveal(actors, checks);
  transactions += 2 * checks.reduce((sum, c) => sum + c.attesters.length, 0) + checks.length; // commit, reveal, open
  const votes = await voteAndResolve(actors, network, disputes);
  const resolved = votes.resolved;
  transactions += votes.transactions;

  const phases = await Promise.all(
    bought.map((s) => contracts.settlementManager.read.getSettlement([s.stackId])),
  );
  const failed = new Set(
    bought.filter((_, i) => phases[i]!.phase === SettlementPhase.Failed).map((s) => s.stackId),
  );
  const audited = bought.filter(
    (s, i) =>
      claimed(s.server) > STACK_UNITS &&
      phases[i]!.phase === SettlementPhase.Accepted &&
      random.chance(settings.ownerAudit),
  );
  const upheld = await challengeOverClaims(
    network,
    audited.map((s) => ({
      ...s,
      server: node(s.server),
      work: served.get(s.stackId)!,
      usedUnits: STACK_UNITS,
    })),
  );
  transactions += audited.length;
  for (const stackId of upheld) failed.add(stackId);

  await network.advance(settings.disputeWindow + 1);
  const accepted = bought
    .filter((s, i) => phases[i]!.phase === SettlementPhase.Accepted && !failed.has(s.stackId))
    .map((s) => s.stackId);
  if (accepted.length > 0) {
    await finalizeSettlement(network.admin, { stackIds: accepted });
    transactions += 1;
  }

  const disputedIds = new Set(disputes.map((d) => d.check.stackId));
  return {
    stacks: bought.map((s) => ({
      stackId: s.stackId,
      server: s.server,
      cheater: node(s.server).cheater,
      cheated: served.get(s.stackId)!.falsified > 0 || claimed(s.server) > STACK_UNITS,
      sampled: sampledIds.has(s.stackId),
      disputed: disputedIds.has(s.stackId),
      failed: failed.has(s.stackId),
    })),
    slashed: [
      ...new Set([
        ...resolved.flatMap((r) => r.slashed),
        ...bought.filter((s) => upheld.includes(s.stackId)).map((s) => s.server),
      ]),
    ],
    transactions,
  };
}
