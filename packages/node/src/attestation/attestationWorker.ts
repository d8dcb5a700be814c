import { AtomaError } from "@atoma/core";
import { DutyWorker } from "../duties/dutyWorker.js";
import type { AttestationEnv } from "./attestationEnv.js";
import { stepAttest } from "./attestDuty.js";
import { stepCommittee } from "./committeeDuty.js";
import { type Duty, listOpenDuties, recordDutyError } from "./duties.js";
import { DUTY_LANES, type DutyLane, LANE_STATES } from "./dutyLanes.js";

/** Longest pause before a duty that keeps failing is tried again. */
const MAX_BACKOFF_MS = 30_000;
/** Rows read at once while a pass goes round a lane. */
const PAGE = 100;

export interface AttestationWorkerOptions {
  pollIntervalMs: number;
  /**
   * Duties still to commit worked on at once (each may fetch and recompute): a slow one (a stalled transcript, a
   * long recompute) holds one slot, not the node.
   */
  concurrency: number;
  /** Committed or revealed duties worked on at once (chain reads and transactions only). @default `concurrency` */
  chainConcurrency?: number | undefined;
  /** Longest one step of a duty may run (fetching, recomputing); a step also stops at its duty's deadline. */
  stepTimeoutMs: number;
}

/**
 * Works through the open duties, in two lanes of slots: duties still to commit (which fetch and recompute) take
 * `concurrency` slots, committed and revealed ones (openings, reveals, deadlines: chain transactions only) take
 * `chainConcurrency` slots of their own, so long recomputes can never hold back an opening. In each lane the duties
 * take turns: every `pollIntervalMs` a sweep starts a step of each duty not in progress or backing off, after the
 * duty the lane started last; a pass cut short by full slots goes on as soon as one frees. Each step is bounded in
 * time (`stepTimeoutMs`, and the duty's own deadline, which the step reads from the chain) and retried after a
 * failure with a growing pause; it reads the chain, decides from the duty row's state and the contract's phase, and
 * records what it did, so a restart resumes where it stopped.
 */
export class AttestationWorker {
  private readonly env: AttestationEnv;
  private readonly options: AttestationWorkerOptions;
  private readonly worker: DutyWorker;
  /** The duty each lane started last: its next pass starts after it, so every duty gets its turn. */
  private readonly cursors: Record<DutyLane, bigint> = { compute: 0n, chain: 0n };
  /** The sweep in which each lane last went round all its duties: nothing in it is due again before the next. */
  private readonly sweptIn: Record<DutyLane, number> = { compute: -1, chain: -1 };

  constructor(env: AttestationEnv, options: AttestationWorkerOptions) {
    this.env = env;
    this.options = options;
    this.worker = new DutyWorker(
      {
        pollIntervalMs: options.pollIntervalMs,
        maxBackoffMs: MAX_BACKOFF_MS,
        lanes: {
          compute: options.concurrency,
          chain: options.chainConcurrency ?? options.concurrency,
        },
      },
      {
        pass: (signal) => this.launch(signal),
        passFailed: (error) => env.logger.error({ err: describe(error) }, "attestation pass failed"),
      },
    );
  }

  start(): void {
    this.worker.start();
  }

  /** Stops starting steps, aborts those in progress and waits for them to end. */
  stop(): Promise<void> {
    return this.worker.stop();
  }

  /** Duties in progress now. */
  get busy(): number {
    return this.worker.busy;
  }

  /** The loop's pass: starts the due steps of each lane while it has free slots, without waiting for them. */
  private async launch(signal: AbortSignal): Promise<void> {
    for (const lane of DUTY_LANES) await this.fill(lane, signal);
  }

  /**
   * Starts the lane's due duties in turn, after the one it started last (wrapping to the oldest), whatever their
   * kind: a stream of quick steps of some duties (candidates waiting for a draw) cannot keep the others from a slot.
   * It stops at the first due duty that finds no free slot (the worker runs the next pass when one frees, and the
   * duty comes first in it), or once it went round every duty of the lane (then nothing is due here before the next
   * sweep, and the next pass skips the lane without reading it).
   */
  private async fill(lane: DutyLane, signal: AbortSignal): Promise<void> {
    const sweep = this.worker.sweep;
    if (this.sweptIn[lane] === sweep) return;
    const seen = new Set<bigint>();
    for (;;) {
      const page = await listOpenDuties(this.env.db, {
        after: this.cursors[lane],
        limit: PAGE,
        states: LANE_STATES[lane],
      });
      // A short page holds every open duty of the lane; a full one is followed by the next from the last it held.
      let round = page.length < PAGE;
      for (const duty of page) {
        if (signal.aborted) return;
        if (seen.has(duty.taskId)) {
          round = true;
          break;
        }
        seen.add(duty.taskId);
        if (
          this.worker.due(duty.taskId) &&
          !this.worker.launch(duty.taskId, lane, () => this.step(duty, signal))
        )
          return;
        // Started, in progress, backing off or stepped this sweep: the lane's next scan goes on after it.
        this.cursors[lane] = duty.taskId;
      }
      if (round) {
        this.sweptIn[lane] = sweep;
        return;
      }
    }
  }

  private step(duty: Duty, signal: AbortSignal): Promise<void> {
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(this.options.stepTimeoutMs)]);
    return this.worker.attempt(
      duty.taskId,
      () =>
        duty.kind === "attest" ? stepAttest(this.env, duty, bounded) : stepCommittee(this.env, duty, bounded),
      async (error, retryInMs) => {
        const message =
          error instanceof AtomaError ? `${error.code}: ${error.shortMessage}` : describe(error);
        this.env.logger.warn(
          {
            kind: duty.kind,
            stackId: duty.stackId.toString(),
            round: duty.round.toString(),
            err: message,
            retryInMs,
          },
          "attestation step failed; retrying",
        );
        await recordDutyError(this.env.db, duty.taskId, message).catch(() => {});
      },
    );
  }
}

/** An error's name and message, never its payload. */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
