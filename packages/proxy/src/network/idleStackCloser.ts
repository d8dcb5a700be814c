import { type Logger, silentLogger } from "@atoma/core";
import type { StackPool } from "./stackPool.js";

/**
 * Closes idle stacks: every pass, a stack of the pool unused for `idleMs` leaves the pool (only while it is still
 * idle, so no request holds it) and is closed on-chain, so that its node settles it now and the units left come
 * back to the gateway's wallet (`OverclaimWatcher` withdraws them from the vault once the settlement is paid out).
 * A close that fails leaves the stack out of the pool: its node settles it at expiry all the same.
 */
export class IdleStackCloser {
  readonly #pool: StackPool;
  readonly #idleMs: number;
  readonly #now: () => number;
  readonly #onClosed: ((stackId: bigint) => void) | undefined;
  readonly #logger: Logger;

  constructor(
    components: {
      pool: StackPool;
      now?: (() => number) | undefined;
      onClosed?: ((stackId: bigint) => void) | undefined;
      logger?: Logger | undefined;
    },
    options: { idleMs: number },
  ) {
    this.#pool = components.pool;
    this.#idleMs = options.idleMs;
    this.#now = components.now ?? Date.now;
    this.#onClosed = components.onClosed;
    this.#logger = (components.logger ?? silentLogger).child({ module: "idle-stack-closer" });
  }

  async pass(signal?: AbortSignal): Promise<void> {
    const cutoff = this.#now() - this.#idleMs;
    for (const stackId of await this.#pool.idleSince(cutoff)) {
      if (signal?.aborted) return;
      // A request may have leased it since: then it stays.
      if (!(await this.#pool.takeIdle(stackId, cutoff))) continue;
      try {
        const closed = await this.#pool.closeOnChain(stackId);
        this.#onClosed?.(stackId);
        this.#logger.info(
          { stackId: String(stackId), settleDeadline: String(closed.settleDeadline), tx: closed.hash },
          "idle stack closed: its node settles it and the rest is refunded",
        );
      } catch (error) {
        this.#logger.warn(
          { stackId: String(stackId), err: error },
          "closing an idle stack failed: it left the pool and settles at expiry",
        );
      }
    }
  }
}
