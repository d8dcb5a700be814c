import { heldBondsState, payHeldBonds } from "@atoma/chain";
import { sql } from "kysely";
import { uint256Digits } from "../db/uint256Order.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { describeError } from "./describeError.js";

/** The most settlements looked at per scan. */
const PER_SCAN = 100;

/**
 * Collects the bonds of the owner challenges this node answered, from the settlements' state (review rev W-1):
 * the chain holds them until the challenge window is over (review challenges LOW-1), and whoever finalizes the
 * settlement (the owner's gateway, a keeper, this node) pays nothing of them, so every scan looks at the node's
 * settlements with an answered challenge that were paid out, or are accepted with their window over, and not
 * collected yet: `payHeld` when the chain still holds a bond and can act on it, then the settlement is marked done
 * once nothing is held. The chain pays the node only after the fraud window (review R2-5: the exit notice after the
 * window) and, when a leaf its late answer revealed was still checkable, first releases the settlement held
 * disputed for that check (review rev4 R4-6): the scan calls it at each of those times, not before. A failure is
 * logged and left to the next scan.
 */
export async function collectHeldBonds(env: DutyEnv, now: bigint): Promise<void> {
  const due = await env.db
    .selectFrom("settlements")
    .select("stack_id")
    .where("held_bonds_done", "=", false)
    .where((eb) =>
      eb.or([
        eb("outcome", "=", "finalized"),
        eb.and([eb("outcome", "=", "accepted"), eb("window_ends", "<", now)]),
      ]),
    )
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom("settlement_challenges")
          .select(sql`1`.as("one"))
          .whereRef("settlement_challenges.stack_id", "=", "settlements.stack_id")
          .where("settlement_challenges.state", "in", ["answered", "dismissed"]),
      ),
    )
    .orderBy(uint256Digits("stack_id"))
    .orderBy("stack_id")
    .limit(PER_SCAN)
    .execute();
  for (const { stack_id: stackId } of due) {
    try {
      const state = await heldBondsState(env.seat, stackId);
      if (state.held > 0n) {
        if (now <= (state.heldOpen ? state.releaseAfter : state.dueAfter)) continue;
        const { paid, hash } = await payHeldBonds(env.seat, { stackId });
        env.logger.info(
          { stackId: String(stackId), amount: String(paid?.amount ?? 0n), to: paid?.to, tx: hash },
          paid === undefined
            ? "settlement released after its revealed leaves' check"
            : "held challenge bonds paid out",
        );
        // Released only: the bonds are paid at a later scan, once due.
        if (paid === undefined) continue;
      }
      await env.db
        .updateTable("settlements")
        .set({ held_bonds_done: true, updated_at: sql`current_timestamp` })
        .where("stack_id", "=", stackId)
        .execute();
    } catch (error) {
      env.logger.warn(
        { stackId: String(stackId), error: describeError(error) },
        "collecting held bonds failed",
      );
    }
  }
}
