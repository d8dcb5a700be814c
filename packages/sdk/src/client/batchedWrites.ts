/**
 * Items nothing waits for (measurements kept in a store), written in batches: one write at a time, and what arrives
 * meanwhile waits in memory to go in the next write, all together. A store that hangs holds at most `limit` items
 * waiting, the most recent (older ones are dropped first). A write's failure is swallowed.
 */
export class BatchedWrites<T> {
  #waiting: T[] = [];
  #writing = false;
  constructor(
    readonly limit: number,
    readonly write: (batch: T[]) => Promise<unknown>,
  ) {}

  add(item: T): void {
    this.#waiting.push(item);
    if (this.#waiting.length > this.limit) this.#waiting.shift();
    if (!this.#writing) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0);
      try {
        await this.write(batch);
      } catch {
        // Only a measurement: the answer it came from was already given.
      }
    }
    this.#writing = false;
  }

  /** Items waiting for a write (not those of the write under way). */
  get pending(): number {
    return this.#waiting.length;
  }
}
