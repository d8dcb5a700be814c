/** Per-duty pauses after failed steps: `baseMs` × 2^failures, at most `maxMs`; a success clears them. */
export class Backoff<Key = bigint> {
  readonly #pauses = new Map<Key, { until: number; failures: number }>();
  readonly #baseMs: number;
  readonly #maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
  }

  waiting(key: Key): boolean {
    const pause = this.#pauses.get(key);
    return pause !== undefined && Date.now() < pause.until;
  }

  succeeded(key: Key): void {
    this.#pauses.delete(key);
  }

  /** Records a failure and returns how long the duty now waits. */
  failed(key: Key): number {
    const failures = (this.#pauses.get(key)?.failures ?? 0) + 1;
    const delay = Math.min(this.#baseMs * 2 ** failures, this.#maxMs);
    this.#pauses.set(key, { until: Date.now() + delay, failures });
    return delay;
  }
}
