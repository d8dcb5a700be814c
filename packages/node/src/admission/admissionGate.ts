import { QueueFullError } from "../errors.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";

export interface AdmissionGateComponents {
  metrics?: NodeMetrics | undefined;
}

export interface AdmissionGateOptions {
  /** Requests generating at once (`limits.maxConcurrentStreams`). */
  maxConcurrent: number;
  /** Requests allowed to wait; one more gets `QueueFullError` (429) at once (`limits.maxQueueLength`). */
  maxQueue: number;
  /** @default Date.now */
  now?: (() => number) | undefined;
}

/** A slot to generate in. Release it exactly when the request is done (releasing twice is harmless). */
export interface Permit {
  release(): void;
}

interface Waiter {
  grant: (permit: Permit) => void;
  reject: (reason: unknown) => void;
}

/**
 * Bounds the work in flight: at most `maxConcurrent` requests hold a permit, at most `maxQueue` wait for one
 * (first come, first served), and the next gets `QueueFullError` with a `Retry-After` estimated from how long
 * permits have recently been held. A waiter whose client goes away (its signal aborts) leaves the line.
 */
export class AdmissionGate {
  readonly #metrics: NodeMetrics | undefined;
  readonly #maxConcurrent: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  readonly #waiting: Waiter[] = [];
  #active = 0;
  /** Moving average of how long a permit is held, in milliseconds. */
  #holdMs = 1_000;

  constructor(components: AdmissionGateComponents, options: AdmissionGateOptions) {
    this.#metrics = components.metrics;
    this.#maxConcurrent = options.maxConcurrent;
    this.#maxQueue = options.maxQueue;
    this.#now = options.now ?? Date.now;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Seconds a client refused now should wait: the queue ahead of it, served `maxConcurrent` at a time. */
  retryAfterSeconds(): number {
    const rounds = (this.#waiting.length + 1) / this.#maxConcurrent;
    return Math.max(1, Math.ceil((rounds * this.#holdMs) / 1000));
  }

  /** A permit now, or after waiting in line; throws `QueueFullError` when the line is full. */
  acquire(signal?: AbortSignal): Promise<Permit> {
    signal?.throwIfAborted();
    if (this.#active < this.#maxConcurrent) return Promise.resolve(this.#grant());
    if (this.#waiting.length >= this.#maxQueue)
      return Promise.reject(
        new QueueFullError(`${this.#waiting.length} requests are already waiting`, this.retryAfterSeconds()),
      );
    return new Promise<Permit>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        this.#metrics?.queueDepth.set(this.#waiting.length);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: (permit) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(permit);
        },
        reject,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
      this.#metrics?.queueDepth.set(this.#waiting.length);
    });
  }

  /** Runs `work` holding a permit. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const permit = await this.acquire(signal);
    try {
      return await work();
    } finally {
      permit.release();
    }
  }

  #grant(): Permit {
    this.#active++;
    this.#metrics?.activeStreams.set(this.#active);
    const started = this.#now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#holdMs = 0.8 * this.#holdMs + 0.2 * Math.max(0, this.#now() - started);
        this.#active--;
        const next = this.#waiting.shift();
        this.#metrics?.queueDepth.set(this.#waiting.length);
        if (next) next.grant(this.#grant());
        else this.#metrics?.activeStreams.set(this.#active);
      },
    };
  }
}
