/**
 * Where a client keeps what it must not lose across a restart (text by key), as `TaskLogStore` does for task logs:
 * a `Map` for one process (`memoryStateStore`), a directory of files for Node (`fileStateStore`, from
 * `@atoma/sdk/node`), the page's `localStorage` for a browser. A `set` that returns a promise is waited for before
 * the client relies on what it wrote; one that throws fails the request.
 */
export interface StateStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
  /**
   * Runs `run` (a read then a write of `key`) while no other writer of the store can write `key`: other processes
   * sharing a directory (`fileStateStore`'s lock file), other tabs of an origin (the Web Locks API). A store that
   * only one process sees leaves it out: the process-wide queue of `stateUpdates` is then enough.
   */
  exclusive?<T>(key: string, run: () => Promise<T>): Promise<T>;
}

/** A store for one process: nothing survives it (the default of a client given no store). */
export function memoryStateStore(): StateStore {
  const entries = new Map<string, string>();
  return {
    get: (key) => entries.get(key),
    set: (key, value) => {
      entries.set(key, value);
    },
  };
}

/**
 * Read-modify-write of one key at a time: two updates of a key never interleave (each reads what the one before
 * wrote), whatever the store's own writes take. There is one queue per store (`stateUpdates`), not per client
 * (review of issue 13, HIGH-1: two clients of one owner over one store erased each other's writes), and each update
 * also holds the store's own lock (`exclusive`) where it has one, for writers outside this process.
 */
export class StateUpdates {
  readonly #tails = new Map<string, Promise<unknown>>();
  constructor(readonly store: StateStore) {}

  update<T>(key: string, change: (text: string | undefined) => { text: string; value: T }): Promise<T> {
    const inner = async () => {
      const { text, value } = change(await this.store.get(key));
      await this.store.set(key, text);
      return value;
    };
    const run = () => (this.store.exclusive ? this.store.exclusive(key, inner) : inner());
    const tail = this.#tails.get(key) ?? Promise.resolve();
    const next = tail.then(run, run);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, settled);
    // The queue of a key forgets it once its last update is done.
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return next;
  }
}

const updatesOf = new WeakMap<StateStore, StateUpdates>();

/** The one queue of updates of `store` in this process, whichever client writes to it. */
export function stateUpdates(store: StateStore): StateUpdates {
  let updates = updatesOf.get(store);
  if (!updates) {
    updates = new StateUpdates(store);
    updatesOf.set(store, updates);
  }
  return updates;
}
