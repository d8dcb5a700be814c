import {
  abstentionBallot,
  type Ballot,
  ballotFromText,
  ballotToText,
  DisputeStatus,
  latestBlock,
  readCommittee,
  readDispute,
  readMaxEvidenceBytes,
  settlementBallotOf,
} from "@atoma/chain";
import { AtomaError, UNAVAILABLE_CLAIM } from "@atoma/core";
import {
  ContextLengthExceededError,
  InvalidRequestError,
  ModelNotFoundError,
  RequestAbortedError,
  UnsupportedParameterError,
} from "@atoma/engine";
import { hexToBytes } from "viem";
import type { CommitteeVoter } from "../committee/committeeVoter.js";
import { commitVote, revealVote, showVote } from "../committee/voteSteps.js";
import { type AttestationEnv, searchFrom, taskModelOf } from "./attestationEnv.js";
import type { VoteDecision } from "./commitStrategy.js";
import { stepCommitteeSelection } from "./committeeSelectDuty.js";
import { forgetUnseated } from "./committeeUnseated.js";
import { disputedRequests } from "./disputedRequests.js";
import { type Duty, updateDuty } from "./duties.js";
import { UnrecomputableRequestError } from "./errors.js";
import { moveDisputeOn } from "./moveDisputeOn.js";
import { recomputeOutputs } from "./recompute.js";

/** Chain seconds kept before the commit deadline for the commit transaction itself. */
const COMMIT_MARGIN_SECONDS = 20n;
/** The longest a recomputation may run, whatever the deadline. */
const MAX_RECOMPUTE_MS = 10 * 60_000;

/**
 * One step of a committee member's duty. Pending: recompute the requests the server posted on chain, within the time
 * the commit deadline leaves, and commit to what it computed — claim H(respHash…) and work H(H(nodeId ‖ output)…) —
 * or, when the requests cannot be replayed in time (or at all), to UNAVAILABLE: an abstention, charged as a missed vote
 * (the timeout share) since the requests are on-chain, but far cheaper than a claim it could not show. The
 * ballot (with its outputs) is stored before the commitment is sent, so a restart reveals and shows the same.
 * Committed: reveal once every member committed or the commit deadline passed. Revealed: show the outputs, then move
 * the dispute on (resolve once every vote is shown or the reveal deadline passed); record how it ended.
 */
export async function stepCommittee(env: AttestationEnv, duty: Duty, signal?: AbortSignal): Promise<void> {
  const disputeId = duty.round;
  const me = await env.seat.registeredNodeId();
  // The dispute and its committee are read at one block: read apart (replicas at different heights), the dispute
  // could show drawn while the committee is still the empty one before the draw, and the seat it gave forgotten below.
  const head = await latestBlock(env.seat);
  // A chain read behind the event that opened the duty knows nothing of it yet: a later step reads again.
  if (duty.eventBlock !== undefined && head.number < duty.eventBlock) return;
  const at = { blockNumber: head.number };
  const [dispute, committee] = await Promise.all([
    readDispute(env.seat, disputeId, at),
    readCommittee(env.seat, disputeId, at),
  ]);
  // The chain's clock at that block (`NodeSeat.now` is the latest block's timestamp).
  const now = head.timestamp;
  const member = committee.find((m) => m.nodeId === me);
  // Not seated yet while a private selection may run: the VRF decides, alone, whether this node sits.
  if (
    !member &&
    dispute.status === DisputeStatus.Open &&
    !dispute.drawn &&
    env.seat.addresses.DisputeSelection
  )
    return stepCommitteeSelection(env, duty, { me, dispute, now }, signal);
  // Never seated (a selection duty the window dropped, or one not worked before the draw): no vote to miss.
  if (!member) return forgetUnseated(env.db, duty);
  if (dispute.status !== DisputeStatus.Open) {
    const outcome = !member.revealed
      ? "missed"
      : member.vote === UNAVAILABLE_CLAIM
        ? "abstained"
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
  const voter: CommitteeVoter = { seat: env.seat, account: env.account };
  const stored = duty.result ? ballotFromText(duty.result) : undefined;

  if (duty.state === "pending") {
    if (member.committed) {
      await updateDuty(env.db, duty.taskId, { state: stored ? "committed" : "revealed" });
      return;
    }
    if (now > dispute.commitDeadline) {
      await updateDuty(env.db, duty.taskId, { state: "revealed", lastError: "missed the commit deadline" });
      return;
    }
    const ballot = stored ?? (await computeBallot(env, duty, dispute, me, now, signal));
    if (!ballot) return;
    // Kept before sending: after a crash the vote is revealed and shown from the row.
    if (!stored) await updateDuty(env.db, duty.taskId, { result: ballotToText(ballot) });
    const sent = await commitVote(voter, { disputeId, nodeId: me, ballot });
    await updateDuty(env.db, duty.taskId, {
      state: "committed",
      commitment: sent.commitment,
      txHash: sent.hash,
      lastError: null,
    });
    return;
  }

  if (duty.state === "committed") {
    // Sealed in a self-selection the window dropped, then drawn uncommitted by the public fallback: commit again.
    if (!member.committed && stored && now <= dispute.commitDeadline) {
      await updateDuty(env.db, duty.taskId, { state: "pending", lastError: null });
      return;
    }
    if (member.revealed || now > dispute.revealDeadline) {
      await updateDuty(env.db, duty.taskId, { state: "revealed" });
      return;
    }
    const everyoneCommitted = committee.every((m) => m.committed);
    if (!everyoneCommitted && now <= dispute.commitDeadline) return;
    const sent = await revealVote(voter, { disputeId, nodeId: me, ballot: stored! });
    await updateDuty(env.db, duty.taskId, { state: "revealed", txHash: sent.hash, lastError: null });
    return;
  }

  // Revealed (or out of the vote): show the outputs behind the claim, then move the dispute on.
  if (member.revealed && !member.substantiated && stored && now <= dispute.revealDeadline)
    await showVote(voter, { disputeId, nodeId: me, ballot: stored });
  await moveDisputeOn(env.seat, disputeId);
}

/**
 * What this member votes: the strategy's decision on the posted requests, recomputed within the time left before the
 * commit deadline (a request that is not valid for the task recomputes to the fixed invalid-request result). A model
 * this node cannot run, outputs too large to show, or a recomputation the deadline cuts short make an abstention. Undefined: not now (the posted requests are not visible yet).
 */
export async function computeBallot(
  env: AttestationEnv,
  duty: Duty,
  dispute: { sampleCount: number; commitDeadline: bigint },
  me: bigint,
  now: bigint,
  step?: AbortSignal,
): Promise<Ballot | undefined> {
  const budgetMs = Number(dispute.commitDeadline - now - COMMIT_MARGIN_SECONDS) * 1_000;
  if (budgetMs <= 0) return abstain(env, duty, me, "too little time left to recompute");
  let decision: VoteDecision;
  try {
    const bodies = await disputedRequests(env.seat, duty.round, dispute.sampleCount, searchFrom(env, duty));
    if (!bodies) return undefined;
    const budget = AbortSignal.timeout(Math.min(budgetMs, MAX_RECOMPUTE_MS));
    const signal = step ? AbortSignal.any([step, budget]) : budget;
    const taskModelId = await taskModelOf(env, duty.stackId);
    decision = await env.strategy.vote({
      stackId: duty.stackId,
      nodeId: me,
      disputeId: duty.round,
      chain: env.seat,
      recompute: () => recomputeOutputs(env.engine(), bodies, { taskModelId, signal }),
    });
  } catch (error) {
    if (unreplayable(error) || cutShort(error))
      return abstain(
        env,
        duty,
        me,
        error instanceof AtomaError ? error.shortMessage : "recomputation cut short",
      );
    throw error; // a passing trouble (engine busy or stopped, chain unreachable): tried again next pass
  }
  if (!decision) return undefined;
  if ("unavailable" in decision) return abstain(env, duty, me, "the strategy abstained");
  if ("claim" in decision) return { ...decision, outputs: [], respHashes: [], units: [], works: [] };
  const outputs = [...decision.outputs];
  const maxBytes = await readMaxEvidenceBytes(env.seat);
  if (outputs.some((output) => hexToBytes(output).length > maxBytes))
    return abstain(env, duty, me, `an output is over the ${maxBytes}-byte bound it must be shown within`);
  return settlementBallotOf(me, outputs);
}

function abstain(env: AttestationEnv, duty: Duty, me: bigint, reason: string): Ballot {
  env.logger.warn(
    { disputeId: duty.round.toString(), reason },
    "cannot replay the disputed requests: abstaining",
  );
  return abstentionBallot(me);
}

/** The request itself cannot be replayed by a node of the echelon: not a servable body, model or context. */
function unreplayable(error: unknown): boolean {
  return (
    error instanceof UnrecomputableRequestError ||
    error instanceof InvalidRequestError ||
    error instanceof UnsupportedParameterError ||
    error instanceof ContextLengthExceededError ||
    error instanceof ModelNotFoundError
  );
}

/** The deadline's budget ran out before the recomputation finished. */
function cutShort(error: unknown): boolean {
  return (
    error instanceof RequestAbortedError ||
    (error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError"))
  );
}
