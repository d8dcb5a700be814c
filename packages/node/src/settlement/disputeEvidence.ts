import { postDisputeEvidence } from "@atoma/chain";
import { listLeaves } from "../accounting/stacks.js";
import { moveDisputeOn } from "../attestation/moveDisputeOn.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { postedRequestsOf, revealOf } from "./sampledEntries.js";
import { type SettlementRow, sampledIndicesOf, updateSettlement } from "./settlementRows.js";

/**
 * A dispute on one of this node's settlements: post the disputed owner-signed requests (the sampled ones, with the
 * request hashes of the leaves the node revealed) before the evidence deadline — a server that withholds them loses
 * as for fraud — then move the dispute on as a party may: draw its committee, resolve it when it is over.
 */
export async function advanceSettlementDispute(ctx: DutyEnv, row: SettlementRow, now: bigint): Promise<void> {
  const disputeId = row.dispute_id;
  if (disputeId === null || row.outcome !== "disputed") return;
  if (row.evidence_tx === null && row.evidence_deadline !== null && now <= row.evidence_deadline) {
    const leaves = await listLeaves(ctx.db, row.stack_id, { limit: Number(row.leaf_count) });
    const indices = sampledIndicesOf(row);
    const revealed = revealOf(row.stack_id, leaves, indices, row.merkle_root);
    const sent = await postDisputeEvidence(ctx.seat, {
      disputeId,
      requests: postedRequestsOf(row.stack_id, leaves, indices),
      reqHashes: revealed.sampled.map((leaf) => leaf.reqHash),
    });
    const tx = sent.at(-1)?.hash ?? "posted";
    await updateSettlement(ctx.db, row.stack_id, { evidence_tx: tx });
    ctx.metrics?.disputes.inc({ role: "server", outcome: "evidence_posted" });
    ctx.logger.info(
      { stackId: row.stack_id, disputeId, txs: sent.length },
      "disputed requests posted on chain",
    );
  }
  const step = await moveDisputeOn(ctx.seat, disputeId);
  if (step !== "waiting" && step !== "closed")
    ctx.logger.info({ stackId: row.stack_id, disputeId, step }, "dispute moved on");
}
