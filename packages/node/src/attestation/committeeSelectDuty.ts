import {
  type Ballot,
  ballotFromText,
  ballotToText,
  evaluateSelection,
  getCommitteeSelection,
  readDisputeCandidates,
  selfSelectCommittee,
  vrfKeyUsableForDispute,
} from "@atoma/chain";
import { UNAVAILABLE_CLAIM } from "@atoma/core";
import type { CommitteeVoter } from "../committee/committeeVoter.js";
import { sealVote } from "../committee/voteSteps.js";
import type { AttestationEnv } from "./attestationEnv.js";
import { computeBallot } from "./committeeDuty.js";
import { type Duty, deleteDutyAsRead, updateDuty } from "./duties.js";
import { moveDisputeOn } from "./moveDisputeOn.js";
import { canSendSelection, DEFAULT_BLOCK_TIME_MS } from "./selectionDeadline.js";

/**
 * A dispute's private committee selection (`DisputeSelection.CommitteeSelectionOpened`; every node holds the duty,
 * the event names nobody). A frozen candidate whose key may sit recomputes the posted requests (all on-chain before a
 * window opens) and keeps its ballot in the duty row first, and only then evaluates its VRF on the window's seed,
 * alone: every eligible candidate reads the requests and keeps its engine busy alike, so a server probing candidates'
 * engines during the window cannot tell who sits (the review's M2). Not selected, it forgets the duty and sends
 * nothing. Selected, it sends its VRF proof and its sealed vote in one transaction (`selfSelect`): nobody learns it
 * sits before its vote is committed. Once the window is over it moves the dispute on, which seats it (already
 * committed); the committee duty then reveals and shows as for a drawn member. Not seated when the window closes
 * (public fallback), it forgets the duty; a public draw that picks it gives it a new one. A selected node that could
 * not recompute before the window ends (too little time, the requests cannot be replayed) does not sit: an abstention
 * would cost it the timeout share and weigh against every claim, while not sitting is slashed (the same timeout
 * share, `DisputeSelection.reportSilentSelection`) only if its VRF proof ever surfaces, which only it can make.
 */
/** A self-selected node sits only with a vote it recomputed: never with an abstention (UNAVAILABLE). */
export function sitsWith(ballot: Ballot): boolean {
  return ballot.claim !== UNAVAILABLE_CLAIM;
}

export async function stepCommitteeSelection(
  env: AttestationEnv,
  duty: Duty,
  at: { me: bigint; dispute: { sampleCount: number }; now: bigint },
  signal?: AbortSignal,
): Promise<void> {
  const { me, now } = at;
  const disputeId = duty.round;
  const selection = await getCommitteeSelection(env.seat, { disputeId });
  if (selection.endsAt === 0n) {
    // Not open yet: the evidence comes first, or an earlier round's window formed no committee and the next round
    // waits for its draw. A node that sat in that window moves the dispute on (arming the next round opens its window).
    if (duty.state === "committed") await moveDisputeOn(env.seat, disputeId);
    return;
  }
  const over = now > selection.endsAt;
  // A row holding a vote's reveal deadline is a seat the public draw gave (`recordDrawnSeat`): a chain read that lags
  // behind the draw must not forget it; the committee step takes it up once the read shows the committee.
  if (duty.revealDeadline !== undefined && !selection.nodeIds.includes(me)) return;
  if (selection.nodeIds.includes(me)) {
    if (duty.state === "pending")
      await updateDuty(env.db, duty.taskId, { state: "committed", lastError: null });
    if (over) await moveDisputeOn(env.seat, disputeId);
    return;
  }
  if (over || duty.state !== "pending") return deleteDutyAsRead(env.db, duty);
  const key = await env.vrfKeys.key();
  if (!key) return deleteDutyAsRead(env.db, duty);
  const candidates = await readDisputeCandidates(env.seat, disputeId);
  if (!candidates.includes(me)) return deleteDutyAsRead(env.db, duty);
  // A key registered at or after the freeze cannot select this node (`VrfKeyTooNew`): no recompute, no doomed tx.
  if (!(await vrfKeyUsableForDispute(env.seat, { disputeId, nodeId: me })))
    return deleteDutyAsRead(env.db, duty);
  // Recomputed before the VRF is evaluated, selected or not: what a prober sees (the requests read, the engine busy
  // for their generation) does not depend on the selection until the selected seal.
  const stored = duty.result ? ballotFromText(duty.result) : undefined;
  const ballot =
    stored ??
    (await computeBallot(
      env,
      duty,
      { sampleCount: at.dispute.sampleCount, commitDeadline: selection.endsAt },
      me,
      now,
      signal,
    ));
  // Not now (the posted requests are not all visible, or no decision yet): the duty stays, selected or not.
  if (!ballot) return;
  // Kept before the evaluation: once seated, the committee duty reveals and shows this ballot. An abstention is not
  // kept, so a later window or a public draw recomputes.
  if (!stored && sitsWith(ballot)) await updateDuty(env.db, duty.taskId, { result: ballotToText(ballot) });
  const evaluated = evaluateSelection(key, selection);
  if (!evaluated.selected) return deleteDutyAsRead(env.db, duty);
  env.logger.info({ disputeId: disputeId.toString() }, "selected onto a dispute committee (private)");
  if (!sitsWith(ballot)) {
    // Not sitting is slashable only on this node's own VRF proof, which it never publishes; sitting to abstain costs
    // the timeout share and can leave the dispute Unverifiable. A public fallback that draws this node gives it a new duty.
    env.logger.info({ disputeId: disputeId.toString() }, "cannot recompute in time: not taking the seat");
    return deleteDutyAsRead(env.db, duty);
  }
  if (!canSendSelection(selection.endsAt, await env.seat.now(), env.blockTimeMs ?? DEFAULT_BLOCK_TIME_MS)) {
    // Too near the end (review L-2): the proof would land late and revert, yet stay public, and anyone could report
    // this node as a silent selected member with it. A proof never sent cannot be shown by anyone.
    env.logger.info(
      { disputeId: disputeId.toString() },
      "too near the selection window's end: not taking the seat",
    );
    return deleteDutyAsRead(env.db, duty);
  }
  const voter: CommitteeVoter = { seat: env.seat, account: env.account };
  const commitment = await sealVote(voter, { disputeId, nodeId: me, ballot });
  const sent = await selfSelectCommittee(env.seat, { disputeId, nodeId: me, proof: evaluated, commitment });
  await updateDuty(env.db, duty.taskId, {
    state: "committed",
    commitment,
    txHash: sent.hash,
    lastError: null,
  });
  env.metrics?.disputes.inc({ role: "committee", outcome: "self_selected" });
}
