/**
 * Work that nothing waits for (a measurement kept in a store), at most `limit` pieces pending at once: past that (a
 * store that hangs), more work is dropped rather than queued without end. Its failures are swallowed.
 */
export class BackgroundLimit {
  #pending = 0;
  constructor(readonly limit: number) {}

  /** Starts `work` unless `limit` pieces are pending; false when it was dropped. */
  run(work: () => Promise<unknown>): boolean {
    if (this.#pending >= this.limit) return false;
    this.#pending += 1;
    void Promise.resolve()
      .then(work)
      .catch(() => undefined)
      .finally(() => {
        this.#pending -= 1;
      });
    return true;
  }

  get pending(): number {
    return this.#pending;
  }
}
