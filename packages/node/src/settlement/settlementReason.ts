import type { Stack } from "../accounting/types.js";

export interface SettlementTriggers {
  /** Settle once fewer than this many units remain (a used-up stack always settles). */
  minRemainingUnits: number;
  /** Settle this many seconds before the stack expires. */
  beforeExpirySeconds: number;
  /** Settle a stack that has served nothing for this many seconds (0: never). @default 0 */
  idleSeconds?: number | undefined;
}

export type SettlementReason = "exhausted" | "expiring" | "idle";

/**
 * Why an active stack should be settled now (chain time `now`, unix seconds), or undefined when it should not.
 * `idleSince` is the chain time since which it has served nothing (an unused reservation is settled early, which
 * frees the node's capacity and charges the owner its minimum).
 */
export function settlementReason(
  stack: Stack,
  now: bigint,
  triggers: SettlementTriggers,
  idleSince?: bigint,
): SettlementReason | undefined {
  const remaining = stack.unitsBought - stack.unitsUsed;
  if (remaining <= 0n || remaining < BigInt(triggers.minRemainingUnits)) return "exhausted";
  if (now + BigInt(triggers.beforeExpirySeconds) >= stack.expiresAt) return "expiring";
  const idle = BigInt(triggers.idleSeconds ?? 0);
  if (idle > 0n && idleSince !== undefined && now - idleSince >= idle) return "idle";
  return undefined;
}
