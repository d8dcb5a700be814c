import {
  advanceDispute,
  commitConsensusResult,
  deliverConsensusResult,
  resolveDispute,
  timeoutConsensusCommits,
  timeoutConsensusDelivery,
} from "@atoma/chain";
import { consensusRoot } from "@atoma/core";
import type { Hex } from "viem";
import { computeConsensusOutput } from "./computeConsensusOutput.js";
import { assertTaskModel } from "./consensusReads.js";
import { type SeatRow, updateSeat } from "./duties.js";
import { type DutyEnv, revertName } from "./dutyEnv.js";

/**
 * One step of a seat: compute and commit before the commit deadline; past it, close the round for the absent
 * (`timeoutCommits`); resolve a dispute whose deadline passed; deliver the agreed output, or past the delivery
 * deadline close the request (`timeoutDelivery`). Each step is idempotent: a revert that says the step is
 * already done moves the row on, and the events close it in the end.
 */
export async function advanceSeat(env: DutyEnv, seat: SeatRow, now: bigint): Promise<void> {
  switch (seat.state) {
    case "pending":
      return commitSeat(env, seat, now);
    case "committed":
    case "missed":
      if (now > seat.commit_deadline && env.turns.mine(`close:${seat.request_id}`, seat.seat_index - 1))
        await closeCommits(env, seat);
      return;
    case "disputed":
      // A party moves its dispute on: draws the committee (from a block after the dispute opened), and ends it
      // when no committee can be drawn or its deadline has passed.
      if (seat.dispute_id !== null && env.turns.mine(`late:${seat.dispute_id}`, seat.seat_index - 1))
        await moveDisputeOn(env, seat.dispute_id);
      return;
    case "delivering":
      return deliver(env, seat, now);
    default:
      return;
  }
}

async function commitSeat(env: DutyEnv, seat: SeatRow, now: bigint): Promise<void> {
  const requestId = seat.request_id;
  if (now > seat.commit_deadline) {
    // Too late to commit (the node was down): the round goes on without this seat.
    await updateSeat(env.db, requestId, { state: "missed" }, ["pending"]);
    return;
  }
  let { output, units } = seat;
  if (output === null || units === null) {
    await assertTaskModel(env.chain.publicClient, env.addresses.TaskRegistry, seat.task_id, env.model);
    const computed = await computeConsensusOutput(
      { engine: env.engine(), admission: env.admission },
      {
        consensusRequests: env.addresses.ConsensusRequests,
        requestId,
        prompt: seat.prompt as Hex,
        maxUnits: seat.max_units,
        model: env.model,
        maxOutputTokens: env.maxOutputTokens,
        maxOutputBytes: env.maxOutputBytes,
      },
    );
    ({ output, units } = computed);
    const root = consensusRoot(computed.output, seat.n).toLowerCase();
    // Kept before committing: a restart commits this very output rather than recomputing it.
    if (!(await updateSeat(env.db, requestId, { output, units, root }, ["pending"]))) return;
  }
  try {
    const tx = await commitConsensusResult(env.chain, {
      requestId,
      index: seat.seat_index,
      n: seat.n,
      output: output as Hex,
      units,
    });
    await updateSeat(env.db, requestId, { state: "committed", tx_hash: tx.hash }, ["pending"]);
    env.metrics?.attestations.inc({ role: "consensus", outcome: "committed" });
    env.logger.info({ requestId, outcome: tx.outcome }, "committed a consensus result");
  } catch (error) {
    const name = revertName(error);
    if (name === "AlreadyCommitted") await updateSeat(env.db, requestId, { state: "committed" }, ["pending"]);
    else if (name === "DeadlinePassed" || name === "WrongStatus")
      await updateSeat(env.db, requestId, { state: "missed" }, ["pending"]);
    else throw error;
  }
}

async function closeCommits(env: DutyEnv, seat: SeatRow): Promise<void> {
  try {
    await timeoutConsensusCommits(env.chain, { requestId: seat.request_id });
    env.logger.info({ requestId: seat.request_id }, "closed a commit round past its deadline");
  } catch (error) {
    // WrongStatus: the round is already over; its outcome event moves the seat on.
    if (revertName(error) !== "WrongStatus") throw error;
  }
}

/** Anyone may end a dispute past its reveal deadline; committee members end it sooner (see voteDuty). */
export async function resolveLate(env: DutyEnv, disputeId: bigint): Promise<void> {
  try {
    await resolveDispute(env.chain, { disputeId });
  } catch (error) {
    const name = revertName(error);
    if (name !== "DisputeClosed" && name !== "TooEarly") throw error;
  }
}

/** Draws the committee or resolves the dispute when either is due; a race lost to another party is no error. */
async function moveDisputeOn(env: DutyEnv, disputeId: bigint): Promise<void> {
  try {
    await advanceDispute(env.chain, { disputeId });
  } catch (error) {
    const name = revertName(error);
    if (
      name !== "DisputeClosed" &&
      name !== "TooEarly" &&
      name !== "NothingToDraw" &&
      name !== "DrawNotReady"
    )
      throw error;
  }
}

async function deliver(env: DutyEnv, seat: SeatRow, now: bigint): Promise<void> {
  const requestId = seat.request_id;
  if (!env.turns.mine(`deliver:${requestId}`, seat.seat_index - 1)) return;
  const late = seat.delivery_deadline !== null && now > seat.delivery_deadline;
  try {
    if (late) {
      await timeoutConsensusDelivery(env.chain, { requestId });
      await updateSeat(env.db, requestId, { state: "done", outcome: "failed" }, ["delivering"]);
      return;
    }
    const tx = await deliverConsensusResult(env.chain, { requestId, output: seat.output as Hex });
    await updateSeat(env.db, requestId, { state: "done", outcome: "delivered", tx_hash: tx.hash }, [
      "delivering",
    ]);
    env.metrics?.attestations.inc({ role: "consensus", outcome: "delivered" });
    env.logger.info({ requestId, units: tx.units.toString() }, "delivered a consensus result");
  } catch (error) {
    const name = revertName(error);
    // Another node delivered first (or the request closed): the outcome event records how it ended.
    if (name === "WrongStatus") return;
    if (name === "DeadlinePassed") return;
    throw error;
  }
}
