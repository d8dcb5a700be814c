import {
  attestationCommitment,
  attestationResult,
  ContractRevertError,
  commitAttestation,
  declareTranscriptUnavailable,
  drawAttesters,
  failVerification,
  findSettlementDispute,
  getAttesters,
  getSettlement,
  hasAnsweredSelection,
  latestBlock,
  openAttestation,
  proveReceiptFraud,
  SettlementPhase,
  sendAttestationCommitment,
  timeoutAttesters,
} from "@atoma/chain";
import type { Hash, RecomputedSample } from "@atoma/core";
import {
  type AttestationEnv,
  beforeDeadline,
  completeDuty,
  loadSample,
  searchFrom,
} from "./attestationEnv.js";
import { attestationSalt } from "./attestationSalt.js";
import { type Duty, updateDuty } from "./duties.js";
import { TranscriptFraudError, TranscriptUnusableError } from "./errors.js";
import { moveDisputeOn } from "./moveDisputeOn.js";
import { decideOnSample } from "./sampleDecision.js";
import { openSelection, stepSelect } from "./selectDuty.js";

/** Reverts of a replacement draw that only mean "not yet": its seed block is not mined, or its window is open. */
const DRAW_WAITING = new Set(["DrawTooEarly", "SelectionWindowOpen"]);

/**
 * One step of an attester's duty, from what the chain says now: commit (fetching, checking and recomputing the
 * sample first, or declaring the transcript unavailable) to H(nodeId, result, salt), the salt derived from the
 * node's key; after the server's reveal, open the commitment (result and salt); then see the settlement through —
 * timing out silent attesters (at the commit or the opening deadline), drawing their replacements, failing a
 * server that does not reveal or post, drawing the committee of a dispute on the stack and resolving it once it is
 * due. `signal` bounds the step; the recompute also stops at the commit deadline.
 */
export async function stepAttest(env: AttestationEnv, duty: Duty, signal?: AbortSignal): Promise<void> {
  const me = await env.seat.registeredNodeId();
  // The settlement and its attesters are read at one block: read apart (replicas at different heights), the draw
  // could show made while the list is still the one before it, and the duty the draw gave would be failed below.
  const head = await latestBlock(env.seat);
  // A chain read behind the event that opened the duty knows nothing of it yet: a later step reads again.
  if (duty.eventBlock !== undefined && head.number < duty.eventBlock) return;
  const at = { blockNumber: head.number };
  const [st, attesters] = await Promise.all([
    getSettlement(env.seat, duty.stackId, at),
    getAttesters(env.seat, duty.stackId, at),
  ]);
  // The chain's clock at that block (`NodeSeat.now` is the latest block's timestamp).
  const now = head.timestamp;
  const mine = attesters.find((a) => a.nodeId === me && !a.removed);
  const salt = () =>
    attestationSalt(env.account, {
      chainId: env.seat.chainId,
      settlementManager: env.seat.addresses.SettlementManager,
      stackId: duty.stackId,
      nodeId: me,
    });
  const finish = async (outcome: string, state: "done" | "failed" = "done") => {
    await updateDuty(env.db, duty.taskId, { state, lastError: null });
    env.metrics?.attestations.inc({ role: "attester", outcome });
    env.logger.info({ stackId: duty.stackId.toString(), outcome }, "attestation duty ended");
  };

  if (duty.state === "pending") {
    // Not an attester yet while the draw is pending: a private selection window (this node may select itself).
    if (!attesters.some((a) => a.nodeId === me) && st.phase === SettlementPhase.Drawing) {
      const selection = await openSelection(env, duty.stackId);
      if (selection)
        return stepSelect(env, duty, { me, selection, requestCount: st.requestCount, now }, signal);
      // The window closed into a public top-up (or a replacement round's window is not open yet): the draw that
      // follows may name this node, which must then commit or declare. The duty waits for it; once the draw is made
      // a node it did not name ends it below.
      return;
    }
    if (!mine) return finish("timed_out", "failed");
    if (mine.committed) {
      await updateDuty(env.db, duty.taskId, { state: "committed" });
      return;
    }
    if (st.phase === SettlementPhase.Failed || st.phase === SettlementPhase.TimedOut)
      return finish("server_failed");
    if (st.phase !== SettlementPhase.Commit) return finish("missed", "failed");
    if (st.dataRequested && !st.dataPosted && now > st.dataDeadline) {
      await failVerification(env.seat, { stackId: duty.stackId });
      return;
    }
    if (now > st.deadline) return; // too late to commit: another party times us out
    if (duty.commitment && duty.result) {
      // Computed before (the transaction failed or the node restarted): send what was kept, not a recompute.
      const sent = await sendAttestationCommitment(env.seat, {
        stackId: duty.stackId,
        nodeId: me,
        commitment: duty.commitment,
      });
      await updateDuty(env.db, duty.taskId, { state: "committed", txHash: sent.hash, lastError: null });
      env.metrics?.attestations.inc({ role: "attester", outcome: "committed" });
      return;
    }
    // Declared unavailable (by this node or another): the sample comes on-chain or the server fails at the data
    // deadline. Asking the server again would let a stalling one hold a recompute slot each sweep until then.
    if (st.dataRequested && !st.dataPosted) return;
    const full = await completeDuty(env, duty);
    const bounded = beforeDeadline(signal, st.deadline, now);
    let sample: Awaited<ReturnType<typeof loadSample>>;
    try {
      sample = await loadSample(env, full, st.dataPosted, bounded);
    } catch (error) {
      if (error instanceof TranscriptFraudError && env.seat.addresses.ReceiptFraud) {
        // The server's own root holds a leaf it could not honestly have: that is proof, not a disagreement.
        await proveReceiptFraud(env.seat, {
          kind: "settledLeaves",
          stackId: duty.stackId,
          leaves: error.leaves,
          proofs: error.proofs,
        });
        return finish("server_fraud_proven");
      }
      if (!(error instanceof TranscriptUnusableError || error instanceof TranscriptFraudError)) throw error;
      // Declared already (by this node or another): the server has until its data deadline to post.
      if (st.dataRequested || mine.declared) return;
      env.logger.warn(
        { stackId: duty.stackId.toString(), err: error.shortMessage },
        "transcript unavailable",
      );
      await declareTranscriptUnavailable(env.seat, { stackId: duty.stackId, nodeId: me });
      return;
    }
    if (!sample) return; // posted, but the event is not visible yet
    const decision = await decideOnSample(
      env,
      { stackId: duty.stackId, nodeId: me, indices: full.indices, bodies: sample.bodies },
      bounded,
    );
    if (!decision) return;
    const recomputed = "sample" in decision ? decision.sample : undefined;
    const commitment = recomputed
      ? attestationCommitment(me, attestationResult(recomputed), await salt())
      : (decision as { commitment: Hash }).commitment;
    // Kept before sending, so a restart after the transaction finds what it committed to.
    await updateDuty(env.db, duty.taskId, {
      commitment,
      ...(recomputed
        ? {
            result: JSON.stringify({
              respHashes: recomputed.respHashes,
              units: recomputed.units.map(String),
            }),
          }
        : {}),
    });
    const sent = recomputed
      ? await commitAttestation(env.seat, {
          stackId: duty.stackId,
          nodeId: me,
          sample: recomputed,
          salt: await salt(),
        })
      : await sendAttestationCommitment(env.seat, { stackId: duty.stackId, nodeId: me, commitment });
    await updateDuty(env.db, duty.taskId, { state: "committed", txHash: sent.hash, lastError: null });
    env.metrics?.attestations.inc({ role: "attester", outcome: "committed" });
    return;
  }

  // Committed: see the settlement through, so nothing stays locked.
  switch (st.phase) {
    case SettlementPhase.Drawing:
      // Committed to a `selfSelect` that lower outputs pushed out of the seats, and a later round's window is open:
      // a candidate of it like any other (the step selects, or forgets the duty).
      if (await pushedOutCandidate(env, duty, me, attesters, now)) {
        await updateDuty(env.db, duty.taskId, { state: "pending" });
        return;
      }
      // Replacements for silent attesters are armed: anyone may draw them, from a later block. Under private
      // selection this opens the round's window, then closes it once it has ended (waiting until then).
      try {
        await drawAttesters(env.seat, { stackId: duty.stackId });
      } catch (error) {
        if (!(error instanceof ContractRevertError) || !DRAW_WAITING.has(error.errorName)) throw error;
      }
      return;
    case SettlementPhase.Commit:
      if (mine && !mine.committed) {
        // Named by a public draw, its commitment never taken (a `selfSelect` pushed out of the seats): it commits
        // (the kept commitment is on the settlement's own sample) or declares, as a drawn attester does.
        await updateDuty(env.db, duty.taskId, { state: "pending" });
        return;
      }
      if (st.dataRequested && !st.dataPosted) {
        if (now > st.dataDeadline) await failVerification(env.seat, { stackId: duty.stackId });
      } else if (now > st.deadline) {
        await timeoutAttesters(env.seat, { stackId: duty.stackId });
      }
      return;
    case SettlementPhase.Reveal:
      if (now > st.deadline) await failVerification(env.seat, { stackId: duty.stackId });
      return;
    case SettlementPhase.Opening: {
      // The server revealed: open what was committed to, before the deadline; after it, time out the silent.
      if (now > st.deadline) {
        await timeoutAttesters(env.seat, { stackId: duty.stackId });
        return;
      }
      if (!mine || mine.opened) return;
      const result = openingResult(duty);
      const key = await salt();
      if (!result || attestationCommitment(me, result, key) !== mine.commitment) {
        // Committed to something it cannot open (a strategy's bare commitment): it will be slashed in full.
        env.logger.warn({ stackId: duty.stackId.toString() }, "attestation commitment cannot be opened");
        return;
      }
      const opened = await openAttestation(env.seat, {
        stackId: duty.stackId,
        nodeId: me,
        result,
        salt: key,
      });
      env.logger.info(
        { stackId: duty.stackId.toString(), agreed: opened.agreed, outcome: opened.compared?.outcome },
        "attestation opened",
      );
      return;
    }
    case SettlementPhase.Disputed:
      await moveStackDisputeOn(env, duty);
      return;
    case SettlementPhase.Accepted:
    case SettlementPhase.Finalized:
      return finish(mine?.agreed ? "agreed" : mine ? "dissented" : "timed_out");
    default:
      return finish("server_failed");
  }
}

/**
 * Whether this node, holding a committed duty while the settlement draws, is no attester of it and a round's window
 * is open that it has neither a seat in nor answered: its earlier `selfSelect` was pushed out of the seats (or never
 * sat), so it is a candidate of this round.
 */
async function pushedOutCandidate(
  env: AttestationEnv,
  duty: Duty,
  me: bigint,
  attesters: readonly { nodeId: bigint }[],
  now: bigint,
): Promise<boolean> {
  if (attesters.some((a) => a.nodeId === me)) return false;
  const selection = await openSelection(env, duty.stackId);
  if (!selection || now > selection.endsAt || selection.nodeIds.includes(me)) return false;
  return !(await hasAnsweredSelection(env.seat, duty.stackId, me, selection.round));
}

/** The attestation result kept on the duty's row (what was recomputed), or undefined when none was. */
function openingResult(duty: Duty): Hash | undefined {
  if (!duty.result) return undefined;
  const kept = JSON.parse(duty.result) as { respHashes: Hash[]; units: string[] };
  const sample: RecomputedSample = { respHashes: kept.respHashes, units: kept.units.map((u) => BigInt(u)) };
  return attestationResult(sample);
}

/** As a party, moves the dispute on the attested settlement on (committee draw, resolution when due). */
async function moveStackDisputeOn(env: AttestationEnv, duty: Duty): Promise<void> {
  const disputeId = await findSettlementDispute(env.seat, {
    stackId: duty.stackId,
    fromBlock: searchFrom(env, duty),
  });
  if (disputeId !== undefined) await moveDisputeOn(env.seat, disputeId);
}
