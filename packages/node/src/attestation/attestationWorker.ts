import { AtomaError } from "@atoma/core";
import { DutyWorker } from "../duties/dutyWorker.js";
import type { AttestationEnv } from "./attestationEnv.js";
import { stepAttest } from "./attestDuty.js";
import { stepCommittee } from "./committeeDuty.js";
import { type Duty, listOpenDuties, recordDutyError } from "./duties.js";

/** Longest pause before a duty that keeps failing is tried again. */
const MAX_BACKOFF_MS = 30_000;

export interface AttestationWorkerOptions {
  pollIntervalMs: number;
  /** Duties worked on at once: a slow one (a stalled transcript, a long recompute) holds one slot, not the node. */
  concurrency: number;
  /** Longest one step of a duty may run (fetching, recomputing); a step also stops at its duty's deadline. */
  stepTimeoutMs: number;
}

/**
 * Works through the open duties: every `pollIntervalMs` it starts a step for each duty not already in progress,
 * up to `concurrency` at once, each bounded in time (`stepTimeoutMs`, and the duty's own deadline, which the step
 * reads from the chain) and retried after a failure with a growing pause. Each step reads the chain, decides from
 * the duty row's state and the contract's phase, and records what it did, so a restart resumes where it stopped.
 */
export class AttestationWorker {
  private readonly env: AttestationEnv;
  private readonly options: AttestationWorkerOptions;
  private readonly worker: DutyWorker;
  /** The duty last started: the next pass starts after it, so every duty gets its turn. */
  private cursor = 0n;

  constructor(env: AttestationEnv, options: AttestationWorkerOptions) {
    this.env = env;
    this.options = options;
    this.worker = new DutyWorker(
      {
        pollIntervalMs: options.pollIntervalMs,
        maxBackoffMs: MAX_BACKOFF_MS,
        concurrency: options.concurrency,
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

  /** One step of every open duty (at most `concurrency` at once), waiting for them all (tests call it). */
  async tick(signal?: AbortSignal): Promise<void> {
    const stop = signal ?? new AbortController().signal;
    const started: Promise<void>[] = [];
    for (const duty of await this.turns()) {
      if (stop.aborted) break;
      if (this.worker.running(duty.taskId) || this.worker.waiting(duty.taskId)) continue;
      await this.worker.slotFree();
      started.push(this.begin(duty, stop));
    }
    await Promise.allSettled(started);
  }

  /** Duties in progress now. */
  get busy(): number {
    return this.worker.busy;
  }

  /** Starts steps while slots are free, without waiting for them (the loop's pass). */
  private async launch(signal: AbortSignal): Promise<void> {
    const scanned = await this.turns();
    for (const duty of scanned) {
      if (signal.aborted || this.worker.full) return;
      if (this.worker.running(duty.taskId) || this.worker.waiting(duty.taskId)) continue;
      void this.begin(duty, signal);
    }
    // A slot is still free: every scanned duty is running, backing off or started, so the next scan goes on past
    // them (else duties beyond the scan's bound would wait for those backoffs to end).
    const last = scanned.at(-1);
    if (last && !signal.aborted) this.cursor = last.taskId;
  }

  /**
   * The order duties get slots in: every open duty in turn, starting after the duty last started, whatever its
   * state. Opening a commitment has a deadline that slashes as surely as committing does, so duties still to commit
   * get no precedence: a stream of quick steps of such duties (candidates waiting for a draw) would hold every slot
   * and starve an opening.
   */
  private turns(): Promise<Duty[]> {
    return listOpenDuties(this.env.db, { after: this.cursor });
  }

  private begin(duty: Duty, signal: AbortSignal): Promise<void> {
    this.cursor = duty.taskId;
    return this.worker.launch(duty.taskId, () => this.step(duty, signal));
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
