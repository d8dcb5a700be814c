import { AtomaError, type AtomaErrorOptions } from "@atoma/core";
import type { NodeErrorCode } from "../errorCodes.js";

/** What the node stored for a settlement cannot back what the chain asks of it (missing or changed leaves). */
export class SettlementStateError extends AtomaError<NodeErrorCode> {
  override name = "SettlementStateError";
  constructor(stackId: bigint, reason: string, options?: AtomaErrorOptions) {
    super("settlement_state_invalid", `settlement of stack ${stackId}: ${reason}`, options);
  }
}
