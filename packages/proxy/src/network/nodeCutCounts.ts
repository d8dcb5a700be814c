import type { Logger } from "@atoma/core";
import type { Kysely } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";
import type { NodeHealthBook } from "../routing/nodeHealthBook.js";
import { SharedAnswers } from "./sharedAnswers.js";
import { StrikeCounter, type StrikeStore } from "./strikeCounter.js";

export interface NodeCutCountsParts {
  health: NodeHealthBook;
  /** Where the counts are kept past a restart (`StrikeCounter`); in memory without it. */
  db?: Kysely<GatewayDatabase> | undefined;
  onNodeError?: ((nodeId: bigint, code: string) => void) | undefined;
  logger: Logger;
}

export interface NodeCutCountsOptions {
  cutLimit?: number | undefined;
  overbilledCutLimit?: number | undefined;
  cutWindowMs?: number | undefined;
  cutBurstMs?: number | undefined;
  cooldownMs?: number | undefined;
}

/** A node that cut a stream or billed a cut stream's leaf, as `NodeCutCounts` is told of it. */
interface CutAt {
  nodeId: bigint;
  stackId: bigint;
}

/**
 * What the gateway counts against a node for the streams it cut (`cutLimit`) and the cut streams' leaves it billed far
 * above what they carried (`overbilledCutLimit`), and what it does past them: the node put aside for the cooldown, and
 * out of rotation when they are a large share of its requests (`NodeCuts`). Counting never fails a request (logged).
 */
export class NodeCutCounts {
  readonly #p: NodeCutCountsParts;
  readonly #cooldownMs: number;
  readonly #cuts: StrikeCounter;
  readonly #overbilled: StrikeCounter;
  readonly #answers: SharedAnswers | undefined;

  constructor(parts: NodeCutCountsParts, options: NodeCutCountsOptions) {
    this.#p = parts;
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    const windowMs = options.cutWindowMs ?? 600_000;
    this.#answers =
      parts.db &&
      new SharedAnswers(parts.db, windowMs, (error) =>
        parts.logger.error({ err: error }, "writing the requests nodes answered failed"),
      );
    const store: StrikeStore | undefined = parts.db &&
      this.#answers && { db: parts.db, answers: this.#answers };
    this.#cuts = new StrikeCounter(
      "cut",
      { windowMs, limit: options.cutLimit ?? 3, burstMs: options.cutBurstMs },
      store,
    );
    // Each over-billed leaf is its own event (no burst): a broken link cuts streams together, it bills no leaf.
    this.#overbilled = new StrikeCounter(
      "overbilled_cut",
      { windowMs, limit: options.overbilledCutLimit ?? 2, burstMs: 0 },
      store,
    );
  }

  /** The clock a stream's `begunAt` is read from. */
  now(): number {
    return this.#cuts.now();
  }

  /** A request the node answered (its receipt kept): its cuts are weighed against these. */
  answered(nodeId: bigint): void {
    this.#answers?.answered(nodeId);
    this.#cuts.answered(nodeId);
    this.#overbilled.answered(nodeId);
  }

  /**
   * A cut of a stream begun at `begunAt` (review of h-gw, HIGH-4): no fault once, yet a node can cut on purpose and
   * bill the leaf; cut after cut within the window puts it aside, and cuts of a large share of its streams take it out
   * of rotation (`NodeCuts`: one broken link cutting many streams at once is one cut).
   */
  async cut(at: CutAt, begunAt: number): Promise<void> {
    const verdict = await this.#cuts.record(at.nodeId, begunAt).catch((error: unknown) => {
      this.#p.logger.error({ err: error, nodeId: String(at.nodeId) }, "counting a node's cut failed");
      return "none" as const;
    });
    if (verdict === "none") return;
    this.#p.onNodeError?.(at.nodeId, "repeated_cuts");
    this.#p.health.coolDown(at.nodeId, this.#cooldownMs);
    this.#p.logger.warn(
      { nodeId: String(at.nodeId), stackId: String(at.stackId), cuts: this.#cuts.events(at.nodeId) },
      "a node cut stream after stream before its receipt: it is put aside",
    );
    if (verdict === "remove") this.#p.health.remove(at.nodeId, "repeated_cuts");
  }

  /**
   * A cut request's leaf billing far above what its stream carried (`overbilledCut`, review 2 of h-gw, MEDIUM-D): the
   * gateway pays the node the difference, so each one counts against it; past `overbilledCutLimit` in the window it is
   * put aside, and it leaves rotation when they are frequent (`NodeCuts`). The receipt is kept as evidence.
   */
  async overbilledCut(
    at: CutAt,
    fields: { leafIndex: bigint; units: bigint },
    relayedUnits: bigint,
  ): Promise<void> {
    const verdict = await this.#overbilled
      .record(at.nodeId, this.#overbilled.now())
      .catch((error: unknown) => {
        this.#p.logger.error(
          { err: error, nodeId: String(at.nodeId) },
          "counting a node's over-billed cut failed",
        );
        return "none" as const;
      });
    this.#p.logger.warn(
      {
        nodeId: String(at.nodeId),
        stackId: String(at.stackId),
        leaf: String(fields.leafIndex),
        units: String(fields.units),
        relayedUnits: String(relayedUnits),
      },
      "a node billed a cut stream's leaf far above what the stream carried: counted against it",
    );
    if (verdict === "none") return;
    this.#p.onNodeError?.(at.nodeId, "overbilled_cuts");
    this.#p.health.coolDown(at.nodeId, this.#cooldownMs);
    if (verdict === "remove") this.#p.health.remove(at.nodeId, "overbilled_cuts");
  }
}
