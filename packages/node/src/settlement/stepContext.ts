import type { Logger } from "@atoma/core";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { NodeMetrics } from "../metrics/nodeMetrics.js";
import type { NodeSeat } from "../service/nodeSeat.js";

/** What each step of the settlement worker uses. */
export interface StepContext {
  db: NodeDb;
  chain: NodeSeat;
  logger: Logger;
  metrics: NodeMetrics | undefined;
}
