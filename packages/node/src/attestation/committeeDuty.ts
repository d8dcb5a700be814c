import { commitDisputeVote, resolveDispute, revealDisputeVote } from "@atoma/chain";
import type { Hash } from "@atoma/core";
import { type Duty, updateDuty } from "./duties.js";
import { recomputeResponseHashes } from "./recompute.js";
import { voteSalt } from "./voteSalt.js";
import { beforeDeadline, completeDuty, loadSample, taskModelOf, type WorkerEnv } from "./workerEnv.js";

/** DisputeManager's statuses. */
const Status = { None: 0, Open: 1, Resolved: 2 } as const;

/**
 * One step of a committee member's duty: recompute the disputed sample and commit a sealed vote; reveal it once
 * every member committed or the commit deadline passed; resolve the dispute once every vote is in or the reveal
 * deadline passed (anyone may, so no dispute stays open); record how it ended.
 */
export async function stepCommittee(env: WorkerEnv, duty: Duty, signal?: AbortSignal): Promise<void> {
  const { disputeManager, settlementManager } = env.chain.contracts;
  const disputeId = duty.round;
  const me = await env.chain.nodeId();
  const [dispute, committee, now] = await Promise.all([
    disputeManager.read.getDispute([disputeId]),
    disputeManager.read.committeeOf([disputeId]),
    env.chain.now(),
  ]);
  const member = committee.find((m) => m.nodeId === me);
  if (dispute.status !== Status.Open || !member) {
    const outcome = !member?.revealed
      ? "missed"
      : !dispute.decided
        ? "inconclusive"
        : member.vote === dispute.winner
          ? "won"
          : "lost";
    await updateDuty(env.db, duty.taskId, {
      state: outcome === "missed" ? "failed" : "done",
      lastError: null,
    });
    env.metrics?.disputes.inc({ role: "committee", outcome });
    env.logger.info({ disputeId: disputeId.toString(), outcome }, "dispute duty ended");
    return;
  }
  const salt = () =>
    voteSalt(env.account, {
      chainId: env.chain.chainId,
      disputeManager: disputeManager.address,
      disputeId,
      nodeId: me,
    });

  if (duty.state === "pending") {
    if (member.committed) {
      await updateDuty(env.db, duty.taskId, { state: duty.result ? "committed" : "revealed" });
      return;
    }
    if (now > dispute.commitDeadline) {
      await updateDuty(env.db, duty.taskId, { state: "revealed", lastError: "missed the commit deadline" });
      return;
    }
    const full = await completeDuty(env, duty);
    const st = await settlementManager.read.getSettlement([duty.stackId]);
    const bounded = beforeDeadline(signal, dispute.commitDeadline, now);
    const sample = await loadSample(env, full, st.dataPosted, bounded);
    if (!sample) return;
    const bodies = sample.bodies;
    const taskModelId = await taskModelOf(env, duty.stackId);
    const result = await env.strategy.vote({
      stackId: duty.stackId,
      nodeId: me,
      disputeId,
      indices: full.indices,
      chain: env.chain,
      recompute: () => recomputeResponseHashes(env.engine(), bodies, { taskModelId, signal: bounded }),
    });
    if (!result) return;
    await updateDuty(env.db, duty.taskId, { result });
    const sent = await commitDisputeVote(env.chain.ctx, {
      disputeId,
      nodeId: me,
      result,
      salt: await salt(),
    });
    await updateDuty(env.db, duty.taskId, {
      state: "committed",
      commitment: sent.commitment,
      txHash: sent.hash,
      lastError: null,
    });
    return;
  }

  if (duty.state === "committed") {
    if (member.revealed || now > dispute.revealDeadline) {
      await updateDuty(env.db, duty.taskId, { state: "revealed" });
      return;
    }
    const everyoneCommitted = committee.every((m) => m.committed);
    if (!everyoneCommitted && now <= dispute.commitDeadline) return;
    const sent = await revealDisputeVote(env.chain.ctx, {
      disputeId,
      nodeId: me,
      result: duty.result as Hash,
      salt: await salt(),
    });
    await updateDuty(env.db, duty.taskId, { state: "revealed", txHash: sent.hash, lastError: null });
    return;
  }

  // Revealed (or out of the vote): resolve once every vote is in or the deadline has passed.
  const everyoneRevealed = committee.every((m) => m.revealed);
  if (everyoneRevealed || now > dispute.revealDeadline) await resolveDispute(env.chain.ctx, { disputeId });
}
