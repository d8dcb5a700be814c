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
  /** Steps run at once through `launch`, per lane: a lane's steps never take another lane's slots. @default none */
  lanes?: Readonly<Record<string, number>> | undefined;
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

interface Lane<Key> {
  slots: number;
  running: Set<Key>;
  /** A pass found a duty due and no free slot here: the slot that frees next starts the next pass at once. */
  owed: boolean;
}

/**
 * The one polling loop of the node's duties (settlement, attestation, consensus). Every `pollIntervalMs`, or at
 * once when woken, it runs the part's pass; a step that fails is reported and, with `maxBackoffMs`, its duty waits
 * longer after each failure. Steps launched side by side take one slot of their lane each; a pass that found a
 * lane full is followed by another as soon as a slot of that lane frees (not at the next poll), and a duty launched
 * once in a sweep (a sweep begins every `pollIntervalMs` at most) is not due again before the next, so slots freeing
 * never make the loop spin. `stop` ends the loop, aborts the steps in progress and waits for them, so no
 * transaction is left half recorded.
 */
export class DutyWorker<Key = bigint> {
  readonly #options: DutyWorkerOptions;
  readonly #round: DutyRound;
  readonly #backoff: Backoff<Key> | undefined;
  readonly #inFlight = new Map<Key, Promise<void>>();
  readonly #lanes = new Map<string, Lane<Key>>();
  /** Duties launched in the current sweep. */
  readonly #stepped = new Set<Key>();
  #sweep = 0;
  #sweepAt = Number.NEGATIVE_INFINITY;
  #renew = false;
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
    for (const [name, slots] of Object.entries(options.lanes ?? {}))
      this.#lanes.set(name, { slots, running: new Set(), owed: false });
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

  /** Starts the next pass and a new sweep now, not after the interval (when the chain said something changed). */
  wake(): void {
    this.#renew = true;
    this.#wake?.abort();
  }

  /** The current sweep's number: it grows by one each time every duty is due again. */
  get sweep(): number {
    return this.#sweep;
  }

  /** Whether `key` waits out a backoff after a failed step. */
  waiting(key: Key): boolean {
    return this.#backoff?.waiting(key) ?? false;
  }

  /** Whether a step of `key` may be launched now: none in progress, no backoff, none launched yet this sweep. */
  due(key: Key): boolean {
    return !this.#inFlight.has(key) && !this.waiting(key) && !this.#stepped.has(key);
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

  /**
   * Runs `step` of a duty due now (see `due`) in a free slot of `lane`, and returns true; with none free it starts
   * nothing and returns false, and the next pass starts as soon as one frees.
   */
  launch(key: Key, lane: string, step: () => Promise<void>): boolean {
    const slots = this.#lane(lane);
    if (slots.running.size >= slots.slots) {
      slots.owed = true;
      return false;
    }
    this.#stepped.add(key);
    slots.running.add(key);
    const running = step().finally(() => {
      this.#inFlight.delete(key);
      slots.running.delete(key);
      if (slots.owed) {
        slots.owed = false;
        this.#wake?.abort();
      }
    });
    this.#inFlight.set(key, running);
    return true;
  }

  #lane(name: string): Lane<Key> {
    const lane = this.#lanes.get(name);
    if (!lane) throw new RangeError(`no lane ${name} in this duty worker`);
    return lane;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      // Made before the pass, so a wake-up during it skips the pause after it.
      const wake = new AbortController();
      this.#wake = wake;
      // A timer may fire a millisecond early: within 2 ms of the interval counts as due.
      if (this.#renew || Date.now() - this.#sweepAt >= this.#options.pollIntervalMs - 2) {
        this.#renew = false;
        this.#sweepAt = Date.now();
        this.#sweep++;
        this.#stepped.clear();
      }
      try {
        await this.#round.pass(signal);
      } catch (error) {
        this.#round.passFailed(error);
      }
      // Until the next sweep is due, counted from this sweep's start (a pass a freed slot woke runs within the sweep;
      // waiting a whole interval after it would space sweeps up to twice the interval apart), but never less than a
      // quarter interval after a pass, so passes longer than the interval do not run back to back.
      const interval = this.#options.pollIntervalMs;
      const untilSweep = this.#sweepAt + interval - Date.now();
      await sleep(Math.max(interval / 4, untilSweep), AbortSignal.any([signal, wake.signal]));
    }
  }
}
