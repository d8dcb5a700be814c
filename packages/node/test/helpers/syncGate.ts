import type { FileHandle } from "node:fs/promises";

/**
 * The flush a test hands to the real `WalSync` (`openStateDatabase`'s `datasync` option): each `fdatasync` of the
 * real log file waits while the gate is paused, and fails once `fail` was called, as a disk that answers EIO does.
 */
export class SyncGate {
  #paused = false;
  #waiting: (() => void)[] = [];
  #failure: Error | undefined;

  /** How many flushes are waiting on the gate. */
  get waiting(): number {
    return this.#waiting.length;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const release of this.#waiting.splice(0)) release();
  }

  /** Every flush from now on fails with `EIO`. */
  fail(): void {
    this.#failure = Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
  }

  readonly datasync = async (handle: FileHandle): Promise<void> => {
    if (this.#paused) await new Promise<void>((release) => this.#waiting.push(release));
    if (this.#failure) throw this.#failure;
    await handle.datasync();
  };
}

/** Lets every pending callback and I/O completion run a few times over: what was not blocked has finished. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
