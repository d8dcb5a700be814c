import { latestBlock } from "@atoma/chain";
import { AtomaError } from "@atoma/core";
import { DutyWorker } from "../duties/dutyWorker.js";
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
        async (error) => {
          await recordDrawError(env.db, draw.request_id, describe(error));
          env.logger.warn({ requestId: draw.request_id, err: error }, "consensus draw step failed");
          if (draw.attempts + 1 >= this.#options.maxAttempts)
            await updateDraw(env.db, draw.request_id, { state: "failed" });
        },
      );
    }
    for (const seat of seats) {
      if (signal?.aborted) return;
      await this.#worker.attempt(
        `seat:${seat.request_id}`,
        () => advanceSeat(env, seat, now),
        async (error) => {
          await recordSeatError(env.db, seat.request_id, describe(error));
          env.logger.warn({ requestId: seat.request_id, err: error }, "consensus seat step failed");
          if (seat.attempts + 1 >= this.#options.maxAttempts || error instanceof ConsensusModelMismatchError)
            await updateSeat(env.db, seat.request_id, { state: "failed" }, [seat.state]);
        },
      );
    }
    for (const vote of votes) {
      if (signal?.aborted) return;
      await this.#worker.attempt(
        `vote:${vote.dispute_id}`,
        () => advanceVote(env, vote, now),
        async (error) => {
          await recordVoteError(env.db, vote.dispute_id, describe(error));
          env.logger.warn({ disputeId: vote.dispute_id, err: error }, "consensus vote step failed");
          if (vote.attempts + 1 >= this.#options.maxAttempts || error instanceof ConsensusModelMismatchError)
            await updateVote(env.db, vote.dispute_id, { state: "failed" }, [vote.state]);
        },
      );
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof AtomaError) return `${error.code}: ${error.shortMessage}`;
  return error instanceof Error ? error.message : String(error);
}
