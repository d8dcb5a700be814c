import type { Logger } from "@atoma/core";

/** One pass of background work; it should end soon after `signal` aborts. */
export type BackgroundPass = (signal: AbortSignal) => Promise<void>;

/**
 * Runs a pass every `everyMs`, one at a time, logging (never throwing) a pass that fails. `stop()` ends the loop
 * and waits for the pass in progress, so no chain transaction is left half recorded.
 */
export class BackgroundLoop {
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly everyMs: number,
    readonly pass: BackgroundPass,
    readonly logger: Logger,
  ) {}

  start(): void {
    this.#loop ??= this.#run(this.#abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.pass(signal);
      } catch (error) {
        if (!signal.aborted) this.logger.warn({ err: error, loop: this.name }, "a background pass failed");
      }
      await pause(this.everyMs, signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal.addEventListener("abort", done, { once: true });
  });
}
