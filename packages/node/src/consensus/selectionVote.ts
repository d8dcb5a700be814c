import {
  DisputeStatus,
  evaluateSelection,
  getCommitteeSelection,
  readCommittee,
  readDispute,
  readDisputeCandidates,
  selfSelectCommittee,
  vrfKeyUsableForDispute,
} from "@atoma/chain";
import { moveDisputeOn } from "../attestation/moveDisputeOn.js";
import { canSendSelection } from "../attestation/selectionDeadline.js";
import { sealVote } from "../committee/voteSteps.js";
import type { ConsensusEnv } from "./consensusEnv.js";
import { updateVote, type VoteRow } from "./duties.js";
import { revertName } from "./revertName.js";
import { committeeVote, recomputedVote } from "./voteDuty.js";

/** A vote row recorded by a private selection window and not (yet) seated by `DisputeOpened`. */
export function awaitingSeat(vote: VoteRow): boolean {
  return vote.reveal_deadline === 0n;
}

/**
 * One step of a consensus dispute's private committee selection (issue 16), on the vote row every node records when
 * the window opens (the event names nobody). A node that is no candidate, has no key or one too new for the dispute
 * (`VrfKeyTooNew`) ends the row: all of that is public. Every other candidate recomputes the request first, selected
 * or not, and only then evaluates its VRF on the window's seed: what a prober sees of a candidate (the prompt read,
 * the engine busy for one generation) does not depend on the selection until the selected ones seal (docs/vrf.md,
 * M2). Not selected, the row ends and nothing is sent. Selected, it sends its VRF proof with its sealed vote in one
 * transaction (`selfSelect`), never with fewer than two block times left in the window (`canSendSelection`: a proof
 * landing late reverts, yet it is public, and anyone could report the node as a silent selected member with it).
 * Once the window is over it moves the dispute on; `DisputeOpened` then names the committee and the row becomes an
 * ordinary seat (already committed when self-selected, to commit when the public top-up drew it). Not seated when
 * the committee sits, or the dispute ended with none, the row ends.
 */
export async function advanceSelection(env: ConsensusEnv, vote: VoteRow, now: bigint): Promise<void> {
  const disputeId = vote.dispute_id;
  const selection = await getCommitteeSelection(env.seat, { disputeId });
  const over = now > selection.endsAt;
  if (vote.state === "committed" || selection.nodeIds.includes(vote.node_id)) {
    if (over) await waitForTheCommittee(env, vote);
    return;
  }
  if (over) return end(env, vote, "not_selected");
  const key = await env.vrfKeys?.key();
  if (!key) return end(env, vote, "not_selected");
  if (!(await readDisputeCandidates(env.seat, disputeId)).includes(vote.node_id))
    return end(env, vote, "not_selected");
  if (!(await vrfKeyUsableForDispute(env.seat, { disputeId, nodeId: vote.node_id })))
    return end(env, vote, "key_too_new");
  const kept = await recomputedVote(env, vote);
  if (!kept) return;
  const evaluated = evaluateSelection(key, selection);
  if (!evaluated.selected) return end(env, vote, "not_selected");
  env.logger.info({ disputeId }, "selected onto a consensus dispute committee (private)");
  if (!canSendSelection(selection.endsAt, await env.seat.now(), env.blockTimeMs)) {
    // Too near the end: the proof would land late, revert, and stay public as evidence of a silent selection.
    env.logger.info({ disputeId }, "too near the selection window's end: not taking the seat");
    return end(env, vote, "too_late");
  }
  const commitment = await sealVote(env, committeeVote({ ...vote, ...kept }));
  try {
    const sent = await selfSelectCommittee(env.seat, {
      disputeId,
      nodeId: vote.node_id,
      proof: evaluated,
      commitment,
    });
    await updateVote(env.db, disputeId, { state: "committed", tx_hash: sent.hash }, ["pending"]);
    env.metrics?.disputes.inc({ role: "committee", outcome: "self_selected" });
  } catch (error) {
    if (revertName(error) !== "AlreadySelected") throw error;
    await updateVote(env.db, disputeId, { state: "committed" }, ["pending"]);
  }
}

/**
 * After the window: draws the committee as any party may; once it sits without this node, or the dispute is over
 * with no committee (the public fallback drew none), the row ends.
 */
async function waitForTheCommittee(env: ConsensusEnv, vote: VoteRow): Promise<void> {
  await moveDisputeOn(env.seat, vote.dispute_id);
  const dispute = await readDispute(env.seat, vote.dispute_id);
  if (!dispute.drawn) {
    if (dispute.status !== DisputeStatus.Open) await end(env, vote, "no_committee");
    return;
  }
  const committee = await readCommittee(env.seat, vote.dispute_id);
  if (!committee.some((member) => member.nodeId === vote.node_id)) await end(env, vote, "unseated");
}

/**
 * Ends the row as it was read: a listener that reopened it for a later round's window meanwhile (same state, a later
 * commit deadline) keeps it, so the node still evaluates that round.
 */
async function end(env: ConsensusEnv, vote: VoteRow, outcome: string): Promise<void> {
  await updateVote(env.db, vote.dispute_id, { state: "done", outcome }, [vote.state], vote.commit_deadline);
}
