/** Per-stack pauses after failed steps: `baseMs` × 2^failures, at most `maxMs`; a success clears them. */
export class Backoff {
  readonly #pauses = new Map<bigint, { until: number; failures: number }>();
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  waiting(stackId: bigint): boolean {
    const pause = this.#pauses.get(stackId);
    return pause !== undefined && Date.now() < pause.until;
  }

  succeeded(stackId: bigint): void {
    this.#pauses.delete(stackId);
  }

  /** Records a failure and returns how long the stack now waits. */
  failed(stackId: bigint): number {
    const failures = (this.#pauses.get(stackId)?.failures ?? 0) + 1;
    const delay = Math.min(this.#baseMs * 2 ** failures, this.#maxMs);
    this.#pauses.set(stackId, { until: Date.now() + delay, failures });
    return delay;
  }
}
