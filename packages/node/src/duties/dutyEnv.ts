import type { Logger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import type { LocalAccount } from "viem";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { NodeContext } from "../service/nodePart.js";
import type { NodeSeat } from "../service/nodeSeat.js";

/**
 * What every duty step works with (settlement, attestation, consensus): the node's state, its seat on the chain,
 * its key, its engine, and the part's logger and metrics; `Options` are the part's own settings and helpers.
 */
export type DutyEnv<Options extends object = object> = {
  db: NodeDb;
  seat: NodeSeat;
  account: LocalAccount;
  /** The node's engine; asked for only by the duties that compute. */
  engine(): InferenceEngine;
  logger: Logger;
  metrics: NodeMetrics | undefined;
} & Options;

/** The shared part of a duty environment, from the node's context, logging as `module`. */
export function dutyEnvOf(
  context: NodeContext,
  module: string,
  engine: () => InferenceEngine = () => context.engine(),
): DutyEnv {
  return {
    db: context.db,
    seat: context.seat,
    account: context.account,
    engine,
    logger: context.logger.child({ module }),
    metrics: context.metrics,
  };
}
