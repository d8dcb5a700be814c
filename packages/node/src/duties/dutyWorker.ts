import { sleep } from "../listener/sleep.js";
import { Backoff } from "./backoff.js";

export interface DutyWorkerOptions {
  /** Milliseconds between passes (and the first pause after a failed step, when `maxBackoffMs` is set). */
  pollIntervalMs: number;
  /**
   * Longest pause before a duty whose step failed is tried again; each failure doubles it, a success clears it.
   * Without it a failed duty is tried again at the next pass.
   */
  maxBackoffMs?: number | undefined;
  /** Steps run at once through `launch`. @default 1 */
  concurrency?: number | undefined;
}

/** What a part plugs into the worker: its pass over the duties due now. */
export interface DutyRound {
  /** Takes the duties due now one step further, through `attempt` (and `launch` to run them side by side). */
  pass(signal: AbortSignal): Promise<void>;
  /** Reports a pass that failed as a whole; the next one starts after the interval. */
  passFailed(error: unknown): void;
}

/** Reports a failed step: records it on the duty's row and logs it. `retryInMs` is its backoff, when it has one. */
export type StepFailed = (error: unknown, retryInMs: number | undefined) => Promise<void> | void;

/**
 * The one polling loop of the node's duties (settlement, attestation, consensus). Every `pollIntervalMs`, or at
 * once when woken, it runs the part's pass; a step that fails is reported and, with `maxBackoffMs`, its duty waits
 * longer after each failure. Steps launched side by side take one of `concurrency` slots each. `stop` ends the
 * loop, aborts the steps in progress and waits for them, so no transaction is left half recorded.
 */
export class DutyWorker<Key = bigint> {
  readonly #options: DutyWorkerOptions;
  readonly #round: DutyRound;
  readonly #backoff: Backoff<Key> | undefined;
  readonly #inFlight = new Map<Key, Promise<void>>();
  #abort: AbortController | undefined;
  #wake: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: DutyWorkerOptions, round: DutyRound) {
    this.#options = options;
    this.#round = round;
    this.#backoff =
      options.maxBackoffMs === undefined
        ? undefined
        : new Backoff(options.pollIntervalMs, options.maxBackoffMs);
  }

  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal);
  }

  /** Stops starting passes, aborts the steps in progress and waits for them to end. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight.values()]);
    this.#loop = undefined;
  }

  /** Starts the next pass now rather than after the interval (when the chain said something changed). */
  wake(): void {
    this.#wake?.abort();
  }

  /** Whether `key` waits out a backoff after a failed step. */
  waiting(key: Key): boolean {
    return this.#backoff?.waiting(key) ?? false;
  }

  /** Runs one step of duty `key`; a failure is reported to `failed`, and the duty backs off. */
  async attempt(key: Key, step: () => Promise<void>, failed: StepFailed): Promise<void> {
    try {
      await step();
      this.#backoff?.succeeded(key);
    } catch (error) {
      await failed(error, this.#backoff?.failed(key));
    }
  }

  /** Steps in progress now. */
  get busy(): number {
    return this.#inFlight.size;
  }

  /** Whether a step of `key` is in progress. */
  running(key: Key): boolean {
    return this.#inFlight.has(key);
  }

  /** Whether every slot is taken. */
  get full(): boolean {
    return this.#inFlight.size >= (this.#options.concurrency ?? 1);
  }

  /** Waits until a slot is free. */
  async slotFree(): Promise<void> {
    while (this.full) await Promise.race(this.#inFlight.values());
  }

  /** Runs `step` in a slot of its own (the caller checks `full` first); it counts as running until it ends. */
  launch(key: Key, step: () => Promise<void>): Promise<void> {
    const running = step().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, running);
    return running;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Made before the pass, so a wake-up during it skips the pause after it.
      const wake = new AbortController();
      this.#wake = wake;
      try {
        await this.#round.pass(signal);
      } catch (error) {
        this.#round.passFailed(error);
      }
      await sleep(this.#options.pollIntervalMs, AbortSignal.any([signal, wake.signal]));
    }
  }
}
