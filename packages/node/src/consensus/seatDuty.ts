import {
  type ConsensusSeatResult,
  closeConsensusRound,
  deliverConsensusResult,
  readConsensusRequest,
  resolveDispute,
  revealConsensusResult,
  sealConsensusResult,
  timeoutConsensusDelivery,
} from "@atoma/chain";
import { consensusRoot } from "@atoma/core";
import { type Hex, toHex } from "viem";
import { moveDisputeOn } from "../attestation/moveDisputeOn.js";
import { computeConsensusOutput } from "./computeConsensusOutput.js";
import type { ConsensusEnv } from "./consensusEnv.js";
import { assertTaskModel, readConsensusPrompt } from "./consensusReads.js";
import { type SeatRow, updateSeat } from "./duties.js";
import { revertName } from "./revertName.js";
import { unitBudget } from "./unitBudget.js";

/**
 * One step of a seat: compute and seal before the seal deadline; reveal once the contract opens reveals; past the
 * seal deadline, close the round for the absent (`closeRound`); resolve a dispute whose deadline passed; deliver
 * the agreed output, or past the delivery deadline close the request (`timeoutDelivery`). Each step is
 * idempotent: a revert that says the step is already done moves the row on, and the events close it in the end.
 */
export async function advanceSeat(env: ConsensusEnv, seat: SeatRow, now: bigint): Promise<void> {
  switch (seat.state) {
    case "pending":
      return sealSeat(env, seat, now);
    case "sealed":
      return revealSeat(env, seat, now);
    case "revealed":
    case "committed":
    case "missed":
      if (now > seat.commit_deadline && env.turns.mine(`close:${seat.request_id}`, seat.seat_index - 1))
        await closeRound(env, seat);
      return;
    case "disputed":
      // A party moves its dispute on: draws the committee (from a block after the dispute opened), and ends it
      // when no committee can be drawn or its deadline has passed.
      if (seat.dispute_id !== null && env.turns.mine(`late:${seat.dispute_id}`, seat.seat_index - 1))
        await moveDisputeOn(env.seat, seat.dispute_id);
      return;
    case "delivering":
      return deliver(env, seat, now);
    default:
      return;
  }
}

async function sealSeat(env: ConsensusEnv, seat: SeatRow, now: bigint): Promise<void> {
  const requestId = seat.request_id;
  if (now > seat.commit_deadline) {
    // Too late to seal (the node was down): the round goes on without this seat.
    await updateSeat(env.db, requestId, { state: "missed" }, ["pending"]);
    return;
  }
  let { output, units, salt } = seat;
  if (output === null || units === null || salt === null) {
    const request = await requestOf(env, seat);
    await assertTaskModel(env.seat, request.taskId, env.model);
    const computed = await computeConsensusOutput(
      { engine: env.engine(), admission: env.admission },
      {
        consensusRequests: env.seat.addresses.ConsensusRequests,
        requestId,
        prompt: request.prompt,
        maxUnits: request.maxUnits,
        model: env.model,
        maxOutputTokens: env.maxOutputTokens,
        maxOutputBytes: env.maxOutputBytes,
      },
    );
    ({ output, units } = computed);
    salt = toHex(crypto.getRandomValues(new Uint8Array(32)));
    const root = consensusRoot(computed.output, computed.units, seat.n).toLowerCase();
    // Kept before sealing: a restart seals and reveals this very output rather than recomputing it.
    const kept = await updateSeat(
      env.db,
      requestId,
      {
        output,
        units,
        root,
        salt,
        task_id: request.taskId,
        prompt: request.prompt,
        max_units: request.maxUnits,
      },
      ["pending"],
    );
    if (!kept) return;
    if (computed.refused)
      env.logger.info({ requestId }, "the engine refused a consensus request: sealing the refusal");
  }
  try {
    const tx = await sealConsensusResult(env.seat, result(seat, output, units, salt));
    await updateSeat(env.db, requestId, { state: "sealed", tx_hash: tx.hash }, ["pending"]);
    env.metrics?.attestations.inc({ role: "consensus", outcome: "committed" });
    env.logger.info({ requestId }, "sealed a consensus result");
  } catch (error) {
    const name = revertName(error);
    if (name === "AlreadySealed") await updateSeat(env.db, requestId, { state: "sealed" }, ["pending"]);
    else if (name === "DeadlinePassed" || name === "WrongStatus")
      await updateSeat(env.db, requestId, { state: "missed" }, ["pending"]);
    else throw error;
  }
}

async function revealSeat(env: ConsensusEnv, seat: SeatRow, now: bigint): Promise<void> {
  const requestId = seat.request_id;
  if (seat.reveal_deadline !== null && now > seat.reveal_deadline) {
    await updateSeat(env.db, requestId, { state: "missed" }, ["sealed"]);
    return;
  }
  try {
    const tx = await revealConsensusResult(env.seat, result(seat, seat.output!, seat.units!, seat.salt!));
    await updateSeat(env.db, requestId, { state: "revealed", tx_hash: tx.hash }, ["sealed"]);
    env.logger.info({ requestId, outcome: tx.outcome }, "revealed a consensus result");
  } catch (error) {
    const name = revertName(error);
    if (name === "RevealNotOpen") return; // other seats are still sealing
    if (name === "AlreadyRevealed") await updateSeat(env.db, requestId, { state: "revealed" }, ["sealed"]);
    else if (name === "DeadlinePassed" || name === "WrongStatus")
      await updateSeat(env.db, requestId, { state: "missed" }, ["sealed"]);
    else throw error;
  }
}

function result(seat: SeatRow, output: string, units: bigint, salt: string): ConsensusSeatResult {
  return {
    requestId: seat.request_id,
    index: seat.seat_index,
    n: seat.n,
    output: output as Hex,
    units,
    salt: salt as Hex,
  };
}

/** The request's task, prompt and unit budget: from the seat row, or read from the chain when it lacks them. */
async function requestOf(
  env: ConsensusEnv,
  seat: SeatRow,
): Promise<{ taskId: bigint; prompt: Hex; maxUnits: bigint }> {
  if (seat.task_id !== null && seat.prompt !== null && seat.max_units !== null)
    return { taskId: seat.task_id, prompt: seat.prompt as Hex, maxUnits: seat.max_units };
  const request = await readConsensusRequest(env.seat, seat.request_id);
  const prompt = await readConsensusPrompt(env.seat, seat.request_id, {
    fromBlock: env.fromBlock,
    promptHash: request.promptHash,
  });
  return { taskId: request.taskId, prompt, maxUnits: unitBudget(request.maxUnits) };
}

async function closeRound(env: ConsensusEnv, seat: SeatRow): Promise<void> {
  try {
    await closeConsensusRound(env.seat, { requestId: seat.request_id });
    env.logger.info({ requestId: seat.request_id }, "closed a consensus round past its deadline");
  } catch (error) {
    const name = revertName(error);
    // WrongStatus: the round is already over (its outcome event moves the seat on); DeadlineNotPassed: a seat
    // that sealed may still reveal.
    if (name !== "WrongStatus" && name !== "DeadlineNotPassed") throw error;
  }
}

/** Anyone may end a dispute past its reveal deadline; committee members end it sooner (see voteDuty). */
export async function resolveLate(env: ConsensusEnv, disputeId: bigint): Promise<void> {
  try {
    await resolveDispute(env.seat, { disputeId });
  } catch (error) {
    const name = revertName(error);
    if (name !== "DisputeClosed" && name !== "TooEarly") throw error;
  }
}

async function deliver(env: ConsensusEnv, seat: SeatRow, now: bigint): Promise<void> {
  const requestId = seat.request_id;
  if (!env.turns.mine(`deliver:${requestId}`, seat.seat_index - 1)) return;
  const late = seat.delivery_deadline !== null && now > seat.delivery_deadline;
  try {
    if (late) {
      await timeoutConsensusDelivery(env.seat, { requestId });
      await updateSeat(env.db, requestId, { state: "done", outcome: "failed" }, ["delivering"]);
      return;
    }
    const tx = await deliverConsensusResult(env.seat, {
      requestId,
      output: seat.output as Hex,
      units: seat.units!,
    });
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
