import { randomBytes } from "node:crypto";
import { ballotOf, readCommittee, readConsensusRequest, resolveDispute } from "@atoma/chain";
import { consensusRoot, consensusShownOutput, type Hash } from "@atoma/core";
import type { Hex } from "viem";
import { type CommitteeVote, commitVote, revealVote, showVote } from "../committee/voteSteps.js";
import { computeConsensusOutput } from "./computeConsensusOutput.js";
import type { ConsensusEnv } from "./consensusEnv.js";
import { assertTaskModel, readConsensusPrompt } from "./consensusReads.js";
import { updateVote, type VoteRow } from "./duties.js";
import { revertName } from "./revertName.js";
import { advanceSelection, awaitingSeat } from "./selectionVote.js";
import { unitBudget } from "./unitBudget.js";

/**
 * One step of a committee seat in a consensus dispute: recompute the request exactly as its nodes had to and
 * commit its root with the work binding the output to this node (`committee/voteSteps.ts`); reveal once the
 * contract allows and show the output; then end the dispute as soon as every vote is shown (or its deadline
 * passed), so the request moves on without waiting for anyone else.
 */
export async function advanceVote(env: ConsensusEnv, vote: VoteRow, now: bigint): Promise<void> {
  if (awaitingSeat(vote)) return advanceSelection(env, vote, now);
  switch (vote.state) {
    case "pending":
      return commit(env, vote, now);
    case "committed":
      return reveal(env, vote);
    case "revealed":
      return resolve(env, vote, now);
    default:
      return;
  }
}

async function commit(env: ConsensusEnv, vote: VoteRow, now: bigint): Promise<void> {
  const disputeId = vote.dispute_id;
  if (now > vote.commit_deadline) {
    await updateVote(env.db, disputeId, { state: "done", outcome: "missed" }, ["pending"]);
    return;
  }
  const kept = await recomputedVote(env, vote);
  if (!kept) return;
  const { result, output } = kept;
  try {
    const tx = await commitVote(env, committeeVote({ ...vote, result, output }));
    await updateVote(env.db, disputeId, { state: "committed", tx_hash: tx.hash }, ["pending"]);
    env.logger.info({ disputeId }, "committed a dispute vote");
  } catch (error) {
    const name = revertName(error);
    if (name === "AlreadyCommitted") await updateVote(env.db, disputeId, { state: "committed" }, ["pending"]);
    else if (name === "CommitPhaseOver" || name === "DisputeClosed")
      await updateVote(env.db, disputeId, { state: "done", outcome: "missed" }, ["pending"]);
    else throw error;
  }
}

/**
 * The vote's root and shown output: recomputed the first time (the request exactly as its nodes had to run it),
 * then kept on the row before anything is sealed, so that after a crash the same vote is revealed and shown.
 * Undefined when the row left `pending` meanwhile (an event closed it). A dispute's prompt is public, so the
 * recompute runs under a fresh cache salt: a client sending the same prompt learns nothing from a cache hit.
 */
export async function recomputedVote(
  env: ConsensusEnv,
  vote: VoteRow,
): Promise<{ result: string; output: string } | undefined> {
  if (vote.result !== null && vote.output !== null) return { result: vote.result, output: vote.output };
  const request = await readConsensusRequest(env.seat, vote.request_id);
  await assertTaskModel(env.seat, request.taskId, env.model);
  const prompt = await readConsensusPrompt(env.seat, vote.request_id, {
    fromBlock: env.fromBlock,
    promptHash: request.promptHash,
  });
  const computed = await computeConsensusOutput(
    { engine: env.engine(), admission: env.admission },
    {
      consensusRequests: env.seat.addresses.ConsensusRequests,
      requestId: vote.request_id,
      prompt,
      maxUnits: unitBudget(request.maxUnits),
      model: env.model,
      maxOutputTokens: env.maxOutputTokens,
      maxOutputBytes: env.maxOutputBytes,
      cacheSalt: randomBytes(16).toString("hex"),
    },
  );
  // The root binds the unit count too: a seat that reported another count loses like one with another output.
  const result = consensusRoot(computed.output, computed.units, request.n).toLowerCase();
  const output = consensusShownOutput(computed.output, computed.units);
  if (!(await updateVote(env.db, vote.dispute_id, { output, result }, ["pending"]))) return undefined;
  return { result, output };
}

async function reveal(env: ConsensusEnv, vote: VoteRow): Promise<void> {
  const disputeId = vote.dispute_id;
  try {
    const tx = await revealVote(env, committeeVote(vote));
    await updateVote(env.db, disputeId, { state: "revealed", tx_hash: tx.hash }, ["committed"]);
    env.metrics?.disputes.inc({ role: "committee", outcome: "voted" });
    env.logger.info({ disputeId }, "revealed a dispute vote");
  } catch (error) {
    const name = revertName(error);
    if (name === "RevealNotOpen") return; // other members are still committing
    if (name === "AlreadyRevealed") await updateVote(env.db, disputeId, { state: "revealed" }, ["committed"]);
    else if (name === "RevealPhaseOver" || name === "DisputeClosed")
      await updateVote(env.db, disputeId, { state: "done", outcome: "missed" }, ["committed"]);
    else throw error;
  }
}

async function resolve(env: ConsensusEnv, vote: VoteRow, now: bigint): Promise<void> {
  if (now <= vote.reveal_deadline) {
    try {
      await showVote(env, committeeVote(vote));
    } catch (error) {
      const name = revertName(error);
      if (name !== "DisputeClosed" && name !== "RevealPhaseOver") throw error;
    }
  }
  const committee = await readCommittee(env.seat, vote.dispute_id);
  if (committee.some((member) => !member.substantiated) && now <= vote.reveal_deadline) return;
  const rank = committee.findIndex((member) => member.nodeId === vote.node_id);
  if (!env.turns.mine(`resolve:${vote.dispute_id}`, rank)) return;
  try {
    const resolved = await resolveDispute(env.seat, { disputeId: vote.dispute_id });
    await updateVote(
      env.db,
      vote.dispute_id,
      { state: "done", outcome: resolved.decided ? "decided" : "undecided" },
      ["revealed"],
    );
    env.logger.info(
      { disputeId: vote.dispute_id, slashed: resolved.slashed.map(String) },
      "resolved a consensus dispute",
    );
  } catch (error) {
    const name = revertName(error);
    if (name === "TooEarly") return; // votes still to come; DisputeResolved closes the row otherwise
    if (name === "DisputeClosed") await updateVote(env.db, vote.dispute_id, { state: "done" }, ["revealed"]);
    else throw error;
  }
}

/**
 * The vote of this seat: the root of its output as the claim, output ‖ units bound to its node id as the work. A
 * row written before vote salts were derived from the key keeps its random salt, which the vote was sealed with.
 */
export function committeeVote(vote: VoteRow): CommitteeVote {
  return {
    disputeId: vote.dispute_id,
    nodeId: vote.node_id,
    ballot: ballotOf(vote.node_id, vote.result as Hash, [vote.output as Hex], []),
    storedSalt: (vote.salt as Hash | null) ?? undefined,
  };
}
