import { type Logger, silentLogger } from "@atoma/core";
import type { NodeHealthBook } from "../routing/nodeHealthBook.js";
import type { CatalogModel } from "./catalog.js";
import type { StackPool } from "./stackPool.js";

export interface StackRestockerOptions {
  /** A stack with fewer units left than this is bought again. */
  belowUnits: bigint;
  /** …and one expiring within this many seconds of the pool's expiry margin. */
  withinSeconds: bigint;
  /** Only stacks used this recently are bought again (traffic that moved on needs none). @default 600000 */
  usedWithinMs?: number | undefined;
}

/**
 * Buys ahead: every pass, each node and model whose stacks in the pool all run low (few units left, or near
 * expiry) and were used lately gets a new stack at the same node, bought in the background, so that requests do
 * not wait on a purchase when the stack they use runs out. A node out of rotation is not bought at.
 */
export class StackRestocker {
  readonly #pool: StackPool;
  readonly #models: () => readonly CatalogModel[];
  readonly #o: StackRestockerOptions;
  readonly #health: NodeHealthBook | undefined;
  readonly #now: () => number;
  readonly #logger: Logger;

  constructor(
    components: {
      pool: StackPool;
      models: () => readonly CatalogModel[];
      /** Nodes out of rotation (a receipt that failed verification) are not bought at again. */
      health?: NodeHealthBook | undefined;
      now?: (() => number) | undefined;
      logger?: Logger | undefined;
    },
    options: StackRestockerOptions,
  ) {
    this.#pool = components.pool;
    this.#health = components.health;
    this.#now = components.now ?? Date.now;
    this.#models = components.models;
    this.#o = options;
    this.#logger = (components.logger ?? silentLogger).child({ module: "stack-restocker" });
  }

  /** One pass; a purchase that fails is logged and tried again at the next pass. */
  async pass(signal?: AbortSignal): Promise<void> {
    const usedSince = this.#now() - (this.#o.usedWithinMs ?? 600_000);
    const low = await this.#pool.runningLow(this.#o.belowUnits, this.#o.withinSeconds, usedSince);
    for (const { modelId, nodeId } of low) {
      if (signal?.aborted) return;
      const model = this.#models().find((m) => m.modelId === modelId);
      // A node that left the catalog (or the model) is not bought at again.
      if (!model?.tasks.some((task) => task.nodes.some((node) => node.nodeId === nodeId))) continue;
      if (this.#health?.isRemoved(nodeId)) continue;
      try {
        const stackId = await this.#pool.buyAhead(model, nodeId, this.#o.belowUnits);
        if (stackId !== undefined)
          this.#logger.info(
            { stackId: String(stackId), nodeId: String(nodeId), model: model.name },
            "a stack running low was bought again ahead of need",
          );
      } catch (error) {
        this.#logger.warn({ nodeId: String(nodeId), err: error }, "buying a stack ahead failed");
      }
    }
  }
}
