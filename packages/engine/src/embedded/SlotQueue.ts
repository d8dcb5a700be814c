import { RequestAbortedError } from "../errors.js";

/** A slot held by one request; `release` gives it back (safe to call more than once). */
export interface Lease<T> {
  readonly slot: T;
  release(): void;
}

/** A place in the queue: `ready` resolves with a slot, or rejects if the signal fires first. */
export interface Ticket<T> {
  readonly ready: Promise<Lease<T>>;
  /** Leaves the queue, or gives the slot back if it was already granted. */
  cancel(): void;
}

interface Waiter<T> {
  grant(lease: Lease<T>): void;
  abort(): void;
}

export interface SlotQueueLoad {
  running: number;
  waiting: number;
  capacity: number;
  maxWaiting: number;
}

/**
 * A fixed set of slots (context sequences) with a bounded FIFO of waiting requests. `enqueue` refuses at once
 * (returns undefined) when the queue is full, so callers can answer "busy" before any work starts.
 */
export class SlotQueue<T> {
  readonly #free: T[];
  readonly #waiting: Waiter<T>[] = [];
  readonly #capacity: number;
  readonly #maxWaiting: number;
  /** Smoothed time a slot stays leased, for retry-after hints. */
  #averageHoldMs = 0;

  constructor(slots: readonly T[], maxWaiting: number) {
    this.#free = [...slots];
    this.#capacity = slots.length;
    this.#maxWaiting = maxWaiting;
  }

  get load(): SlotQueueLoad {
    return {
      running: this.#capacity - this.#free.length,
      waiting: this.#waiting.length,
      capacity: this.#capacity,
      maxWaiting: this.#maxWaiting,
    };
  }

  /** Seconds until a place in the queue likely opens, from how long slots have been held lately (1–60). */
  retryAfterSeconds(): number {
    const perSlotMs = this.#averageHoldMs || 1000;
    const seconds = Math.ceil((perSlotMs * (this.#waiting.length + 1)) / this.#capacity / 1000);
    return Math.min(60, Math.max(1, seconds));
  }

  enqueue(signal?: AbortSignal | undefined): Ticket<T> | undefined {
    if (signal?.aborted) return rejected(new RequestAbortedError());
    const slot = this.#free.pop();
    if (slot !== undefined) {
      const lease = this.#lease(slot);
      return { ready: Promise.resolve(lease), cancel: lease.release };
    }
    if (this.#waiting.length >= this.#maxWaiting) return undefined;
    let waiter!: Waiter<T>;
    let granted: Lease<T> | undefined;
    const ready = new Promise<Lease<T>>((resolve, reject) => {
      const onAbort = () => waiter.abort();
      waiter = {
        grant: (lease) => {
          signal?.removeEventListener("abort", onAbort);
          granted = lease;
          resolve(lease);
        },
        abort: () => {
          const index = this.#waiting.indexOf(waiter);
          if (index !== -1) this.#waiting.splice(index, 1);
          reject(new RequestAbortedError());
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    this.#waiting.push(waiter);
    ready.catch(() => {});
    return { ready, cancel: () => (granted ? granted.release() : waiter.abort()) };
  }

  #lease(slot: T): Lease<T> {
    const leasedAt = performance.now();
    let released = false;
    return {
      slot,
      release: () => {
        if (released) return;
        released = true;
        const held = performance.now() - leasedAt;
        this.#averageHoldMs = this.#averageHoldMs === 0 ? held : this.#averageHoldMs * 0.8 + held * 0.2;
        const next = this.#waiting.shift();
        if (next) next.grant(this.#lease(slot));
        else this.#free.push(slot);
      },
    };
  }
}

function rejected<T>(error: Error): Ticket<T> {
  const ready = Promise.reject(error);
  ready.catch(() => {});
  return { ready, cancel: () => {} };
}
