import { AtomaError, type AtomaErrorOptions } from "@atoma/core";

/** What the node stored for a settlement cannot back what the chain asks of it (missing or changed leaves). */
export class SettlementStateError extends AtomaError {
  override name = "SettlementStateError";
  constructor(stackId: bigint, reason: string, options?: AtomaErrorOptions) {
    super("SETTLEMENT_STATE_INVALID", `settlement of stack ${stackId}: ${reason}`, options);
  }
}
