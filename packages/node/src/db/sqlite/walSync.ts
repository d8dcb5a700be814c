import { type FileHandle, open } from "node:fs/promises";
import { DatabaseError } from "../../errors.js";

/**
 * Makes the write-ahead log durable off the node's thread: `sync()` resolves once an `fdatasync` of the log that
 * started after the call has finished, so every commit that returned before the call is on disk (the log is
 * appended in order, and SQLite's recovery keeps every frame up to the last complete commit). Calls that arrive
 * while a sync runs share the one queued after it (group commit): under load one sync covers many requests.
 *
 * Under `synchronous = normal` SQLite itself syncs the log only at checkpoints; this is how the hot path makes a
 * stack's live row durable while the engine runs, and a leaf durable just after its answer is sent (`liveStacks.ts`).
 * A failed sync is final: dirty pages may have been dropped, so a later sync's success would prove nothing, and
 * every later call fails with the first error.
 */
export class WalSync {
  readonly #path: string;
  #handle: Promise<FileHandle> | undefined;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #failure: DatabaseError | undefined;
  #closed = false;
  #started = 0;
  readonly #listeners: (() => void)[] = [];

  readonly #datasync: (handle: FileHandle) => Promise<void>;

  /** `datasync`: how the log's file is flushed (a test passes one it can pause or fail; always the real file). */
  constructor(
    walPath: string,
    datasync: (handle: FileHandle) => Promise<void> = (handle) => handle.datasync(),
  ) {
    this.#path = walPath;
    this.#datasync = datasync;
  }

  /** The first sync's failure, once one has failed: the node then takes no more requests (`liveStacks.ts`). */
  get failure(): DatabaseError | undefined {
    return this.#failure;
  }

  /** Calls `listener` once, when the first sync fails (the running marker records the loss: `runningMarker.ts`). */
  onFailure(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** How many `fdatasync` calls have started: with many requests in flight, far fewer than the requests. */
  get started(): number {
    return this.#started;
  }

  /** Resolves once every commit made before the call is on disk; rejects with `DatabaseError`. */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#queued) return this.#queued;
    if (!this.#running) return this.#begin();
    this.#queued = this.#running
      .catch(() => {})
      .then(() => {
        this.#queued = undefined;
        return this.#begin();
      });
    return this.#queued;
  }

  #begin(): Promise<void> {
    const run = this.#flush().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #flush(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new DatabaseError("the embedded database is closed");
    this.#started++;
    try {
      this.#handle ??= open(this.#path, "r");
      await this.#datasync(await this.#handle);
    } catch (cause) {
      if (!this.#failure) {
        this.#failure = new DatabaseError("syncing the embedded database's log failed", { cause });
        for (const listener of this.#listeners) listener();
      }
      throw this.#failure;
    }
  }

  /** Waits for a sync in progress, then lets the log's file go. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queued?.catch(() => {});
    await this.#running?.catch(() => {});
    const handle = this.#handle;
    this.#handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }
}
