import { drawAttesters, SettlementPhase } from "@atoma/chain";
import { type AttestNetwork, eventually } from "./attestNetwork.js";
import { revealOnly, type ServedStack } from "./servingNode.js";

/** Phases after which a settlement can cost its server nothing more: revealed (or ended). */
const SETTLED_FOR_GOOD: ReadonlySet<number> = new Set([
  SettlementPhase.Accepted,
  SettlementPhase.Finalized,
  SettlementPhase.Failed,
  SettlementPhase.TimedOut,
  SettlementPhase.Opening,
]);
/** Past the dev chain's reveal and data windows (5 minutes each). */
const PAST_A_WINDOW_S = 301;

/**
 * Ends, now, a settlement a test passed over (its window selected too few, so it tries another stack): left alone,
 * its server is failed and slashed at a deadline that passes during some later test, which then finds one node
 * fewer than it counted on (a sale needs `attesters + minCommittee + 1` eligible nodes in the echelon:
 * `TooFewVerifiers`). The public attesters commit as they would; an honest server then reveals (it keeps its node),
 * a cheating one is failed past its deadline and slashed, as the network would do to it.
 */
export async function endPassedOver(net: AttestNetwork, served: ServedStack, honest: boolean): Promise<void> {
  const phaseOf = async () =>
    Number((await net.deployment.contracts.settlementManager.read.getSettlement([served.stackId])).phase);
  let seen = "";
  const committed = await eventually(
    async () => {
      const phase = await phaseOf();
      const attesters = await net.deployment.contracts.settlementManager.read.attestersOf([served.stackId]);
      seen = `phase ${phase} attesters ${attesters.map((a) => `${a.nodeId}${a.committed ? "c" : ""}`).join(",")}`;
      if (SETTLED_FOR_GOOD.has(phase) || phase === SettlementPhase.Reveal) return phase;
      // The public draw's seed is a later block: mine past it and draw, as a keeper would.
      if (phase === SettlementPhase.Drawing) {
        await net.advance(1);
        await drawAttesters(net.user.ctx, { stackId: served.stackId }).catch(() => undefined);
      }
      return undefined;
    },
    `passed-over stack ${served.stackId}'s public attesters to commit`,
    180_000,
  ).catch(async (error: Error) => {
    const rows: string[] = [];
    for (const n of net.nodes) {
      const duties = await n.node.context.db
        .selectFrom("attestation_tasks")
        .select(["kind", "round", "state", "attempts", "last_error", "commitment"])
        .where("stack_id", "=", served.stackId)
        .execute();
      for (const d of duties)
        rows.push(
          `node ${n.nodeId}: ${d.kind} r${d.round} ${d.state} attempts ${d.attempts} commitment ${d.commitment ? "yes" : "no"} ${d.last_error ?? ""}`,
        );
    }
    throw new Error(`${error.message} (last seen: ${seen})\n${rows.join("\n")}`);
  });
  if (committed !== SettlementPhase.Reveal) return;
  if (honest) {
    const indices = await net.deployment.contracts.settlementManager.read.sampledIndices([served.stackId]);
    await revealOnly(served, [...indices]);
    // Every attester opens its commitment: no transaction of this settlement's comes after it returns (a test that
    // reads the transactions of its next settlement sees only that one's).
    await eventually(
      async () => ((await phaseOf()) === SettlementPhase.Opening ? undefined : true),
      `passed-over stack ${served.stackId}'s attesters to open their commitments`,
    );
    return;
  }
  await net.advance(PAST_A_WINDOW_S);
  await eventually(
    async () => ((await phaseOf()) === SettlementPhase.Failed ? true : undefined),
    `passed-over cheating stack ${served.stackId} to be failed`,
  );
}

/**
 * Tops the network up to `floor` nodes eligible to serve or check its task (registered, subscribed and started,
 * serving from the next epoch), so that slashed cheaters never leave a later sale short of verifiers.
 */
export async function keepEligible(net: AttestNetwork, floor: number): Promise<void> {
  const pool = await net.deployment.contracts.taskRegistry.read.offers([net.taskId, 1n, 2n ** 255n]);
  if (pool.length < floor) await net.addNodes(floor - pool.length);
}
