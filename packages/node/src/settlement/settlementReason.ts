import type { Stack } from "../accounting/types.js";

export interface SettlementTriggers {
  /** Settle once fewer than this many units remain (a used-up stack always settles). */
  minRemainingUnits: number;
  /** Settle this many seconds before the stack expires. */
  beforeExpirySeconds: number;
}

export type SettlementReason = "exhausted" | "expiring";

/** Why an active stack should be settled now (chain time `now`, unix seconds), or undefined when it should not. */
export function settlementReason(
  stack: Stack,
  now: bigint,
  triggers: SettlementTriggers,
): SettlementReason | undefined {
  const remaining = stack.unitsBought - stack.unitsUsed;
  if (remaining <= 0n || remaining < BigInt(triggers.minRemainingUnits)) return "exhausted";
  if (now + BigInt(triggers.beforeExpirySeconds) >= stack.expiresAt) return "expiring";
  return undefined;
}
