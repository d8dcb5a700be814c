import { latestBlock } from "@atoma/chain";
import { AtomaError } from "@atoma/core";
import { DutyWorker, type StepFailed } from "../duties/dutyWorker.js";
import type { ConsensusEnv } from "./consensusEnv.js";
import { advanceDraw } from "./drawDuty.js";
import { listPendingDraws, recordDrawError, updateDraw } from "./draws.js";
import {
  listOpenSeats,
  listOpenVotes,
  recordSeatError,
  recordVoteError,
  updateSeat,
  updateVote,
} from "./duties.js";
import { ConsensusModelMismatchError } from "./errors.js";
import { advanceSeat } from "./seatDuty.js";
import { advanceVote } from "./voteDuty.js";

export interface ConsensusWorkerOptions {
  pollIntervalMs: number;
  /** Failed attempts after which a duty is given up (marked `failed`). */
  maxAttempts: number;
}

/**
 * The loop over this node's open consensus duties: every `pollIntervalMs` it takes each pending draw, open seat
 * and vote one step further (see `advanceDraw`, `advanceSeat`, `advanceVote`), one at a time, judging deadlines
 * by the chain's clock. An error is recorded on its row and retried next round, up to `maxAttempts`.
 */
export class ConsensusWorker {
  readonly #env: ConsensusEnv;
  readonly #options: ConsensusWorkerOptions;
  /** Without a backoff: a failed duty is tried again at the next pass, up to `maxAttempts`. */
  readonly #worker: DutyWorker<string>;

  constructor(env: ConsensusEnv, options: ConsensusWorkerOptions) {
    this.#env = env;
    this.#options = options;
    this.#worker = new DutyWorker(
      { pollIntervalMs: options.pollIntervalMs },
      {
        pass: (signal) => this.runOnce(signal),
        passFailed: (error) => env.logger.warn({ err: error }, "consensus round failed"),
      },
    );
  }

  start(): void {
    this.#worker.start();
  }

  stop(): Promise<void> {
    return this.#worker.stop();
  }

  /** One pass over every open duty. */
  async runOnce(signal?: AbortSignal): Promise<void> {
    const env = this.#env;
    const latest = await latestBlock(env.seat);
    const now = latest.timestamp;
    const draws = await listPendingDraws(env.db);
    const seats = await listOpenSeats(env.db);
    const votes = await listOpenVotes(env.db);
    env.turns.retain(
      new Set([
        ...draws.map((d) => `draw:${d.request_id}`),
        ...seats.flatMap((s) => [`close:${s.request_id}`, `deliver:${s.request_id}`, `late:${s.dispute_id}`]),
        ...votes.map((v) => `resolve:${v.dispute_id}`),
      ]),
    );
    for (const draw of draws) {
      if (signal?.aborted) return;
      await this.#worker.attempt(
        `draw:${draw.request_id}`,
        () => advanceDraw(env, draw, latest.number),
        this.#failed({
          what: "draw",
          names: { requestId: draw.request_id },
          attempts: draw.attempts,
          record: (message) => recordDrawError(env.db, draw.request_id, message),
          giveUp: () => updateDraw(env.db, draw.request_id, { state: "failed" }),
        }),
      );
    }
    for (const seat of seats) {
      if (signal?.aborted) return;
      await this.#worker.attempt(
        `seat:${seat.request_id}`,
        () => advanceSeat(env, seat, now),
        this.#failed({
          what: "seat",
          names: { requestId: seat.request_id },
          attempts: seat.attempts,
          runsModel: true,
          record: (message) => recordSeatError(env.db, seat.request_id, message),
          giveUp: () => updateSeat(env.db, seat.request_id, { state: "failed" }, [seat.state]),
        }),
      );
    }
    for (const vote of votes) {
      if (signal?.aborted) return;
      await this.#worker.attempt(
        `vote:${vote.dispute_id}`,
        () => advanceVote(env, vote, now),
        this.#failed({
          what: "vote",
          names: { disputeId: vote.dispute_id },
          attempts: vote.attempts,
          runsModel: true,
          record: (message) => recordVoteError(env.db, vote.dispute_id, message),
          giveUp: () => updateVote(env.db, vote.dispute_id, { state: "failed" }, [vote.state]),
        }),
      );
    }
  }

  /**
   * Records a failed step on its row and logs it; gives the duty up after `maxAttempts`, or at once when it runs
   * the model and the request names another.
   */
  #failed(duty: FailedDuty): StepFailed {
    return async (error) => {
      await duty.record(describe(error));
      this.#env.logger.warn({ ...duty.names, err: error }, `consensus ${duty.what} step failed`);
      const wrongModel = duty.runsModel === true && error instanceof ConsensusModelMismatchError;
      if (duty.attempts + 1 >= this.#options.maxAttempts || wrongModel) await duty.giveUp();
    };
  }
}

/** A consensus duty whose step failed, and how its row records that. */
interface FailedDuty {
  what: "draw" | "seat" | "vote";
  /** The fields naming the duty in the log. */
  names: Record<string, bigint>;
  attempts: number;
  /** Whether the step runs the request on the node's model. */
  runsModel?: boolean;
  record(message: string): Promise<unknown>;
  giveUp(): Promise<unknown>;
}

function describe(error: unknown): string {
  if (error instanceof AtomaError) return `${error.code}: ${error.shortMessage}`;
  return error instanceof Error ? error.message : String(error);
}
