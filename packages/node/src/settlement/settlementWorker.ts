import {
  ContractRevertError,
  drawAttesters,
  finalizeSettlement,
  getSettlement,
  SettlementPhase,
  type SubmitSettlementParams,
  submitSettlement,
  submitSettlements,
} from "@atoma/chain";
import { freezeForSettlement } from "../accounting/freezeForSettlement.js";
import { listStacks } from "../accounting/stacks.js";
import type { BlobStore } from "../blobs/blobStore.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { DutyWorker } from "../duties/dutyWorker.js";
import { StackBusyError } from "../errors.js";
import { listPendingChallenges } from "./challengeRows.js";
import { describeError } from "./describeError.js";
import { advanceSettlementDispute } from "./disputeEvidence.js";
import { DrawKeeper } from "./drawKeeper.js";
import { claimEpochFees, endedFeeEpochs } from "./epochFees.js";
import { collectHeldBonds } from "./heldBonds.js";
import { IdleClock } from "./idleClock.js";
import { answerOwnerChallenge } from "./ownerChallenge.js";
import { prepareSubmission } from "./prepareSubmission.js";
import { closeOpenings, postSampledRequestsOf, revealSample } from "./sampleDuties.js";
import { type SettlementTriggers, settlementReason } from "./settlementReason.js";
import {
  listOpenSettlements,
  listUnfrozenSettlingStacks,
  markSettlementFailed,
  recordAttemptError,
  recordSubmission,
  type SettlementRow,
  updateSettlement,
} from "./settlementRows.js";

/** Most settlements sent or finalized in one transaction (bounds its gas). */
const MAX_BATCH = 32;
/** Longest pause after repeated failures on one stack. */
const MAX_BACKOFF_MS = 60_000;

/** What the settlement worker's steps use: the duty environment and the blob store transcripts are kept in. */
export type SettlementEnv = DutyEnv<{ blobs: BlobStore }>;

export interface SettlementWorkerOptions extends SettlementTriggers {
  /** Milliseconds between scans. */
  pollIntervalMs: number;
  /** Claim the node's fees once the epoch they were credited to has ended. */
  autoClaim: boolean;
  /** The chain id, part of the inputs transcript's domain. */
  chainId: number;
}

/**
 * Settles this node's stacks with no operator action. Each scan, in chain time: freezes stacks that are used up,
 * about to expire, or closed by their owner; submits each frozen stack's root, units and transcript blob id; posts
 * the sampled requests when an attester reported the transcript unavailable; reveals the sampled response hashes
 * with their proofs once the reveal opens; finalizes after the owner's challenge window; collects the bonds held for
 * its answers to owner challenges once the settlement stands, whoever finalized it; claims the fees once their
 * epoch has ended. Every step is keyed on its `settlements` row (filled by the listener's handlers and by the
 * worker itself) and on the chain's own state, so a restart resumes where it stopped without sending twice.
 */
export class SettlementWorker {
  readonly #env: SettlementEnv;
  readonly #options: SettlementWorkerOptions;
  readonly #worker: DutyWorker;
  readonly #idle = new IdleClock();
  readonly #keeper: DrawKeeper;
  #toldUnregistered = false;

  constructor(env: SettlementEnv, options: SettlementWorkerOptions) {
    this.#env = env;
    this.#options = options;
    this.#worker = new DutyWorker(
      { pollIntervalMs: options.pollIntervalMs, maxBackoffMs: MAX_BACKOFF_MS },
      {
        pass: () => this.tick(),
        passFailed: (error) =>
          env.logger.warn({ error: describeError(error) }, "settlement scan failed; retrying"),
      },
    );
    this.#keeper = new DrawKeeper(env.seat, env.logger);
  }

  start(): void {
    this.#worker.start();
  }

  /** Stops scanning; waits for the step in progress (a transaction being mined) to end. */
  stop(): Promise<void> {
    return this.#worker.stop();
  }

  /** One scan over every stack and settlement that may need a step. */
  async tick(): Promise<void> {
    const nodeId = await this.#env.seat.nodeId();
    if (nodeId === undefined) {
      if (!this.#toldUnregistered)
        this.#env.logger.warn(
          {},
          "the signing key is not registered in the NodeRegistry: nothing to settle yet",
        );
      this.#toldUnregistered = true;
      return;
    }
    const now = await this.#env.seat.now();
    await this.#freezeDue(nodeId, now);
    const claims: SettlementRow[] = [];
    const pending: SettlementRow[] = [];
    const finalizable: SettlementRow[] = [];
    for (const row of await listOpenSettlements(this.#env.db)) {
      if (this.#worker.waiting(row.stack_id)) continue;
      if (row.state === "settled") claims.push(row);
      else if (row.state === "pending") pending.push(row);
      else if (finalizeDue(row, now)) finalizable.push(row);
      else await this.#attempt(row.stack_id, () => this.#advance(row, now));
    }
    await this.#submitAll(pending);
    await this.#finalizeAll(finalizable);
    // From the chain's state, whoever finalized (review rev W-1: the owner's gateway often does it first).
    await collectHeldBonds(this.#env, now);
    for (const challenge of await listPendingChallenges(this.#env.db)) {
      if (now > challenge.answer_deadline || this.#worker.waiting(challenge.stack_id)) continue;
      await this.#attempt(challenge.stack_id, () => answerOwnerChallenge(this.#env, challenge));
    }
    if (this.#options.autoClaim && claims.length > 0) await this.#claim(nodeId, claims);
    await this.#keeper.tick(nodeId).catch((error: unknown) => {
      this.#env.logger.warn({ error: describeError(error) }, "draw keeper scan failed; retrying");
    });
  }

  async #freezeDue(nodeId: bigint, now: bigint): Promise<void> {
    const active = await listStacks(this.#env.db, { servingNodeId: nodeId, state: "active" });
    this.#idle.retain(new Set(active.map((stack) => stack.stackId)));
    const due = active.flatMap((stack) => {
      const reason = settlementReason(stack, now, this.#options, this.#idle.since(stack, now));
      return reason ? [{ stackId: stack.stackId, reason }] : [];
    });
    const closed = await listUnfrozenSettlingStacks(this.#env.db, nodeId);
    for (const { stackId, reason } of [...due, ...closed.map((stackId) => ({ stackId, reason: "closed" }))]) {
      if (this.#worker.waiting(stackId)) continue;
      await this.#attempt(stackId, async () => {
        try {
          const snapshot = await freezeForSettlement(this.#env.db, stackId);
          this.#env.logger.info(
            { stackId, reason, leaves: snapshot.leaves.length, units: snapshot.unitsClaimed.toString() },
            "stack frozen for settlement",
          );
        } catch (error) {
          if (!(error instanceof StackBusyError)) throw error;
          this.#env.logger.debug({ stackId }, "requests still in flight; freezing on the next scan");
        }
      });
    }
  }

  async #advance(row: SettlementRow, now: bigint): Promise<void> {
    // Before the draw: a private selection window asks for the sample while the settlement is still drawing.
    if (row.data_deadline !== null && row.data_tx === null && row.reveal_deadline === null) {
      if (now <= row.data_deadline) await postSampledRequestsOf(this.#env, row);
    }
    if (await this.#drawPending(row, now)) return this.#draw(row.stack_id);
    if (row.reveal_deadline !== null && row.reveal_tx === null && now <= row.reveal_deadline)
      await revealSample(this.#env, row);
    // The opening deadline is after the reveal deadline: only then can attesters that never opened hold it up.
    if (
      row.reveal_tx !== null &&
      row.outcome === null &&
      row.reveal_deadline !== null &&
      now > row.reveal_deadline
    )
      await closeOpenings(this.#env, row, now);
    if (row.dispute_id !== null) await advanceSettlementDispute(this.#env, row, now);
  }

  /** Runs a settlement's armed attester draw (anyone may; its outcome is the armed block's, not ours). */
  async #draw(stackId: bigint): Promise<void> {
    try {
      const drawn = await drawAttesters(this.#env.seat, { stackId });
      this.#env.logger.info({ stackId, outcome: drawn.outcome }, "attester draw run");
    } catch (error) {
      // A private selection window still open: it is closed by a draw after it ends (the next step's).
      if (error instanceof ContractRevertError && error.errorName === "SelectionWindowOpen") return;
      throw error;
    }
  }

  /**
   * Whether the settlement waits for an attester draw: after its submission (when the draw that followed it did
   * not run, or re-armed), or after its attesters timed out. Read from the chain only where one can be pending.
   */
  async #drawPending(row: SettlementRow, now: bigint): Promise<boolean> {
    if (row.outcome !== null || row.reveal_deadline !== null) return false;
    const mayBeDrawing =
      row.state === "submitted" ||
      (row.state === "attesting" && row.commit_deadline !== null && now > row.commit_deadline);
    if (!mayBeDrawing) return false;
    const { phase } = await getSettlement(this.#env.seat, row.stack_id);
    return phase === SettlementPhase.Drawing;
  }

  /** Prepares each frozen stack, then sends them in batches (`settleMany`), one by one if a batch fails. */
  async #submitAll(rows: SettlementRow[]): Promise<void> {
    const ready: SubmitSettlementParams[] = [];
    for (const row of rows)
      await this.#attempt(row.stack_id, async () => {
        const prepared = await prepareSubmission(
          { db: this.#env.db, blobs: this.#env.blobs, chain: this.#env.seat },
          row.stack_id,
          this.#options.chainId,
        );
        if (prepared.status === "ready") ready.push(prepared.params);
        else if (prepared.status === "timed-out")
          await markSettlementFailed(this.#env.db, row.stack_id, "timed_out", "not settled by the deadline");
        else {
          this.#env.logger.info({ stackId: row.stack_id }, "settlement already on chain; resuming from it");
          await recordSubmission(this.#env.db, row.stack_id, row.settle_tx);
        }
      });
    for (let i = 0; i < ready.length; i += MAX_BATCH) {
      const batch = ready.slice(i, i + MAX_BATCH);
      if (batch.length > 1) {
        try {
          const sent = await submitSettlements(this.#env.seat, batch, { draw: false });
          for (const params of batch) await this.#submitted(params, sent.hash);
          for (const stackId of sent.drawPending) await this.#attempt(stackId, () => this.#draw(stackId));
          continue;
        } catch (error) {
          this.#env.logger.warn(
            { error: describeError(error), stacks: batch.length },
            "batch refused; submitting one by one",
          );
        }
      }
      for (const params of batch) await this.#attempt(params.stackId, () => this.#submitOne(params));
    }
  }

  async #submitOne(params: SubmitSettlementParams): Promise<void> {
    try {
      const sent = await submitSettlement(this.#env.seat, params, { draw: false });
      await this.#submitted(params, sent.hash);
      if (sent.outcome === "drawPending")
        await this.#attempt(params.stackId, () => this.#draw(params.stackId));
    } catch (error) {
      if (!(error instanceof ContractRevertError && error.errorName === "SettlementTooLate")) throw error;
      await markSettlementFailed(
        this.#env.db,
        params.stackId,
        "too_late",
        "the settlement deadline had passed",
      );
      this.#env.metrics?.settlements.inc({ outcome: "too_late" });
      this.#env.logger.error({ stackId: params.stackId }, "stack not settled before its deadline");
    }
  }

  async #submitted(params: SubmitSettlementParams, tx: string): Promise<void> {
    await recordSubmission(this.#env.db, params.stackId, tx);
    this.#env.metrics?.settlements.inc({ outcome: "submitted" });
    this.#env.logger.info(
      {
        stackId: params.stackId,
        requests: params.requestCount.toString(),
        units: params.units.toString(),
        tx,
      },
      "settlement submitted",
    );
  }

  /** Pays out accepted settlements past their challenge window, in batches (`finalizeMany`) when it can. */
  async #finalizeAll(rows: SettlementRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += MAX_BATCH) {
      const stackIds = rows.slice(i, i + MAX_BATCH).map((row) => row.stack_id);
      if (stackIds.length > 1) {
        try {
          await this.#finalize(stackIds);
          continue;
        } catch (error) {
          this.#env.logger.warn(
            { error: describeError(error), stacks: stackIds.length },
            "batch refused; finalizing one by one",
          );
        }
      }
      for (const stackId of stackIds) await this.#attempt(stackId, () => this.#finalize([stackId]));
    }
  }

  async #finalize(stackIds: bigint[]): Promise<void> {
    const finalized = await finalizeSettlement(this.#env.seat, { stackIds });
    for (const stackId of stackIds)
      await updateSettlement(this.#env.db, stackId, { finalize_tx: finalized.hash });
    this.#env.logger.info({ stacks: stackIds.map(String), tx: finalized.hash }, "settlements finalized");
  }

  /** Claims the node's fees per ended epoch, once for all stacks finalized in it. */
  async #claim(nodeId: bigint, rows: SettlementRow[]): Promise<void> {
    for (const [epoch, stackIds] of await endedFeeEpochs(this.#env, rows))
      await this.#attempt(stackIds[0]!, () => claimEpochFees(this.#env, nodeId, epoch, stackIds));
  }

  /** Runs one step for a stack; a failure is recorded on its row and the stack waits, longer after each. */
  #attempt(stackId: bigint, step: () => Promise<void>): Promise<void> {
    return this.#worker.attempt(stackId, step, async (error, retryInMs) => {
      const reason = describeError(error);
      this.#env.metrics?.settlements.inc({ outcome: "error" });
      this.#env.logger.warn({ stackId, error: reason, retryInMs }, "settlement step failed");
      await recordAttemptError(this.#env.db, stackId, reason).catch(() => {});
    });
  }
}

/** Accepted, and the owner's challenge window has closed. */
function finalizeDue(row: SettlementRow, now: bigint): boolean {
  return (
    row.outcome === "accepted" &&
    row.window_ends !== null &&
    row.finalize_tx === null &&
    now > row.window_ends
  );
}
