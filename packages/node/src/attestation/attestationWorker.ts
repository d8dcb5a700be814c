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
  /** The last duty the previous pass scanned: the next scan starts after it, so every duty gets its turn. */
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
    const started: Promise<void>[] = [];
    await this.startEach(signal ?? new AbortController().signal, started);
    await Promise.allSettled(started);
  }

  /** Duties in progress now. */
  get busy(): number {
    return this.worker.busy;
  }

  /** The loop's pass: starts a step of every open duty as slots free up, without waiting for the last ones. */
  private launch(signal: AbortSignal): Promise<void> {
    return this.startEach(signal);
  }

  /**
   * Starts one step of each open duty not in progress or backing off, waiting for a free slot before each: a pass
   * reaches every duty it scanned, so however many quick steps there are, none waits for a pass that never comes to
   * it (a pass that stopped at the first full slot left the rest to the next interval, where the same duties came
   * first again). Duties still to commit go first within the pass (a recompute is the step that takes long); the
   * scan goes on after the last duty the previous pass scanned, so past its bound every duty still gets its turn.
   */
  private async startEach(signal: AbortSignal, started?: Promise<void>[]): Promise<void> {
    const scanned = await listOpenDuties(this.env.db, { after: this.cursor });
    const order = [
      ...scanned.filter((d) => d.state === "pending"),
      ...scanned.filter((d) => d.state !== "pending"),
    ];
    for (const duty of order) {
      if (signal.aborted) return;
      if (this.worker.running(duty.taskId) || this.worker.waiting(duty.taskId)) continue;
      await this.worker.slotFree();
      if (signal.aborted) return;
      const step = this.begin(duty, signal);
      started?.push(step);
    }
    const last = scanned.at(-1);
    if (last) this.cursor = last.taskId;
  }

  private begin(duty: Duty, signal: AbortSignal): Promise<void> {
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
