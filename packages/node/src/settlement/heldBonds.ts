import { heldBondsOf, payHeldBonds } from "@atoma/chain";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { describeError } from "./describeError.js";

/**
 * Collects the bonds of the owner challenges this node answered on `stackIds`, now finalized: the chain holds
 * them until the settlement's challenge window is over (review challenges LOW-1), so nothing pays them on its own.
 * A failure is logged; the bonds stay claimable by anyone's `payHeld`.
 */
export async function collectHeldBonds(env: DutyEnv, stackIds: readonly bigint[]): Promise<void> {
  if (stackIds.length === 0) return;
  const answered = await env.db
    .selectFrom("settlement_challenges")
    .select("stack_id")
    .distinct()
    .where("stack_id", "in", [...stackIds])
    .where("state", "in", ["answered", "dismissed"])
    .execute();
  for (const { stack_id: stackId } of answered) {
    try {
      if ((await heldBondsOf(env.seat, stackId)) === 0n) continue;
      const { paid, hash } = await payHeldBonds(env.seat, { stackId });
      env.logger.info(
        { stackId: String(stackId), amount: String(paid?.amount ?? 0n), tx: hash },
        "held challenge bonds paid out",
      );
    } catch (error) {
      env.logger.warn(
        { stackId: String(stackId), error: describeError(error) },
        "collecting held bonds failed",
      );
    }
  }
}
