/**
 * Turn-taking for the steps anyone may take (deliver, close a round, resolve a dispute): every node that holds
 * the duty would otherwise send the same transaction at once, and all but the first would revert and pay gas.
 * The node of rank r waits r × `graceMs` (wall clock) after it first sees the step due; if those before it
 * did the step, the event closes the duty before its turn comes.
 */
export class Turns {
  readonly #graceMs: number;
  readonly #now: () => number;
  readonly #firstSeen = new Map<string, number>();

  constructor(graceMs: number, now: () => number = Date.now) {
    this.#graceMs = graceMs;
    this.#now = now;
  }

  /** Whether the node of `rank` (0 goes first) may take the step `key` now. */
  mine(key: string, rank: number): boolean {
    const now = this.#now();
    const seen = this.#firstSeen.get(key);
    if (seen === undefined) {
      this.#firstSeen.set(key, now);
      return rank <= 0;
    }
    return now - seen >= rank * this.#graceMs;
  }

  /** Forgets a step (done, or no longer due). */
  done(key: string): void {
    this.#firstSeen.delete(key);
  }

  /** Forgets every step whose key is not in `open`, so the map stays as small as the open duties. */
  retain(open: ReadonlySet<string>): void {
    for (const key of this.#firstSeen.keys()) if (!open.has(key)) this.#firstSeen.delete(key);
  }
}
