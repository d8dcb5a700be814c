import type { Logger } from "@atoma/core";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { SettlementChain } from "./settlementChain.js";

/** What each step of the settlement worker uses. */
export interface StepContext {
  db: NodeDb;
  chain: SettlementChain;
  logger: Logger;
  metrics: NodeMetrics | undefined;
}
