import {
  getSettlement,
  postSampledRequests,
  revealSettlement,
  SettlementPhase,
  timeoutAttesters,
} from "@atoma/chain";
import { listLeaves } from "../accounting/stacks.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { postedRequestsOf, revealOf } from "./sampledEntries.js";
import { type SettlementRow, sampledIndicesOf, updateSettlement } from "./settlementRows.js";

async function sampledLeaves(ctx: DutyEnv, row: SettlementRow) {
  const leaves = await listLeaves(ctx.db, row.stack_id, { limit: Number(row.leaf_count) });
  return { leaves, indices: sampledIndicesOf(row) };
}

/**
 * An attester said it could not fetch the transcript: the sampled owner-signed requests go on chain, one per
 * transaction (each fits a block: the API accepts no body over the on-chain bound). Positions already posted
 * (before a restart) are skipped.
 */
export async function postSampledRequestsOf(ctx: DutyEnv, row: SettlementRow): Promise<void> {
  const { leaves, indices } = await sampledLeaves(ctx, row);
  const posted = await postSampledRequests(ctx.seat, {
    stackId: row.stack_id,
    requests: postedRequestsOf(row.stack_id, leaves, indices),
  });
  const last = posted.at(-1)?.hash ?? "0x";
  await updateSettlement(ctx.db, row.stack_id, { data_tx: last });
  ctx.metrics?.settlements.inc({ outcome: "requests_posted" });
  ctx.logger.info(
    { stackId: row.stack_id, posted: posted.length, tx: last },
    "sampled requests posted on chain",
  );
}

/**
 * The reveal opened: the sampled response hashes go on chain with their Merkle proofs. The attesters then open
 * their commitments; the settlement is accepted or disputed once they all have (`SettlementAccepted`,
 * `SettlementDisputed`), or once the silent ones are timed out (`closeOpenings`).
 */
export async function revealSample(ctx: DutyEnv, row: SettlementRow): Promise<void> {
  const { leaves, indices } = await sampledLeaves(ctx, row);
  const revealed = await revealSettlement(ctx.seat, revealOf(row.stack_id, leaves, indices, row.merkle_root));
  await updateSettlement(ctx.db, row.stack_id, { reveal_tx: revealed.hash });
  ctx.metrics?.settlements.inc({ outcome: "revealed" });
  ctx.logger.info(
    { stackId: row.stack_id, openDeadline: revealed.openDeadline.toString() },
    "sampled responses revealed",
  );
}

/**
 * After the reveal, attesters that do not open by the deadline would leave the settlement undecided: once it has
 * passed, the server times them out itself (anyone may), which compares the openings there are.
 */
export async function closeOpenings(ctx: DutyEnv, row: SettlementRow, now: bigint): Promise<void> {
  const st = await getSettlement(ctx.seat, row.stack_id);
  if (st.phase !== SettlementPhase.Opening || now <= st.deadline) return;
  const closed = await timeoutAttesters(ctx.seat, { stackId: row.stack_id });
  ctx.logger.info(
    { stackId: row.stack_id, timedOut: closed.timedOut.map(String), outcome: closed.compared?.outcome },
    "attesters that did not open timed out",
  );
}
