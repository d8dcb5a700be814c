import { ContractRevertError, claimNodeFees, feeEpoch } from "@atoma/chain";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { type SettlementRow, updateSettlement } from "./settlementRows.js";

/**
 * The finalized settlements by the epoch their fee was credited to (the vault's epoch at the payout's block,
 * read once and kept on the row), keeping only epochs that have ended.
 */
export async function endedFeeEpochs(ctx: DutyEnv, rows: SettlementRow[]): Promise<Map<bigint, bigint[]>> {
  const byEpoch = new Map<bigint, bigint[]>();
  for (const row of rows) {
    let epoch = row.fee_epoch;
    if (epoch === null) {
      if (row.finalized_block === null) continue;
      epoch = await feeEpoch(ctx.seat, row.finalized_block);
      await updateSettlement(ctx.db, row.stack_id, { fee_epoch: epoch });
    }
    byEpoch.set(epoch, [...(byEpoch.get(epoch) ?? []), row.stack_id]);
  }
  if (byEpoch.size === 0) return byEpoch;
  const current = await feeEpoch(ctx.seat);
  for (const epoch of byEpoch.keys()) if (epoch >= current) byEpoch.delete(epoch);
  return byEpoch;
}

/** Claims the node's fees of one ended epoch, once for every stack paid in it. */
export async function claimEpochFees(
  ctx: DutyEnv,
  nodeId: bigint,
  epoch: bigint,
  stackIds: readonly bigint[],
): Promise<void> {
  let tx: string | null = null;
  try {
    const claimed = await claimNodeFees(ctx.seat, { nodeId, epochs: [epoch] });
    tx = claimed.hash;
    ctx.logger.info({ epoch, amount: claimed.amount.toString(), tx }, "fees claimed");
  } catch (error) {
    // Claimed already (by the operator, or by this worker before a crash): nothing is left to do.
    if (!(error instanceof ContractRevertError && error.errorName === "NothingToClaim")) throw error;
  }
  for (const stackId of stackIds) await updateSettlement(ctx.db, stackId, { state: "claimed", claim_tx: tx });
  ctx.metrics?.settlements.inc({ outcome: "claimed" }, stackIds.length);
}
