import { RequestAbortedError } from "./errors.js";

/**
 * A streamed response: iterate it once for the chunks (OpenAI's shapes); `result` resolves with the complete
 * response once iteration ends (the same object a non-streaming call returns), or rejects with the error that
 * ended it. A stream nobody iterates holds a queue slot until `cancel()` or the request's signal fires.
 */
export class EngineStream<Chunk, Result> implements AsyncIterable<Chunk> {
  readonly result: Promise<Result>;
  readonly #source: AsyncGenerator<Chunk, Result, undefined>;
  readonly #onCancel: () => void;
  #resolve!: (value: Result) => void;
  #reject!: (error: unknown) => void;
  #started = false;
  #settled = false;

  constructor(source: AsyncGenerator<Chunk, Result, undefined>, onCancel: () => void = () => {}) {
    this.#source = source;
    this.#onCancel = onCancel;
    this.result = new Promise<Result>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncIterator<Chunk, undefined> {
    if (this.#started) throw new TypeError("an engine stream can be iterated only once");
    this.#started = true;
    // A plain iterator rather than another generator layer: one promise per chunk.
    return {
      next: async () => {
        try {
          const next = await this.#source.next();
          if (!next.done) return next;
          this.#settle(() => this.#resolve(next.value));
          return { done: true, value: undefined };
        } catch (error) {
          this.#settle(() => this.#reject(error));
          throw error;
        }
      },
      // The consumer stopped early (break, return, an error in its loop body): end the source, free its slot.
      return: async () => {
        if (!this.#settled) await this.#stop();
        return { done: true, value: undefined };
      },
    };
  }

  /** Drains the stream and returns the complete response. */
  async collect(): Promise<Result> {
    for await (const _ of this) {
      // chunks are not needed
    }
    return this.result;
  }

  /** Gives up a stream that will not be read: frees its queue slot and rejects `result`. */
  async cancel(): Promise<void> {
    this.#started = true;
    await this.#stop();
  }

  async #stop(): Promise<void> {
    try {
      await this.#source.return(undefined as never);
    } finally {
      this.#onCancel();
      this.#settle(() => this.#reject(new RequestAbortedError()));
    }
  }

  #settle(action: () => void): void {
    if (this.#settled) return;
    this.#settled = true;
    action();
  }
}
