import { answerChallenge } from "@atoma/chain";
import { StackTree } from "@atoma/core";
import { listLeaves } from "../accounting/stacks.js";
import { type ChallengeRow, setChallengeState } from "./challengeRows.js";
import type { StepContext } from "./stepContext.js";

/** Proves a challenged leaf is under the submitted root; a leaf the node never settled cannot be proved. */
export async function answerOwnerChallenge(ctx: StepContext, challenge: ChallengeRow): Promise<void> {
  const { dispute_id: disputeId, stack_id: stackId } = challenge;
  const settlement = await ctx.db
    .selectFrom("settlements")
    .select("leaf_count")
    .where("stack_id", "=", stackId)
    .executeTakeFirstOrThrow();
  const leaves = await listLeaves(ctx.db, stackId, { limit: Number(settlement.leaf_count) });
  const index = Number(challenge.leaf_index);
  if (leaves[index]?.leafHash.toLowerCase() !== challenge.leaf) {
    await setChallengeState(ctx.db, disputeId, "unanswerable", {
      last_error: "the challenged leaf is not among the settled leaves",
    });
    ctx.logger.error({ stackId, disputeId }, "challenge cannot be answered: the leaf was never settled");
    return;
  }
  const proof = new StackTree(leaves.map((leaf) => leaf.leafHash)).proof(index);
  const answered = await answerChallenge(ctx.chain.actions, { challengeId: disputeId, proof });
  await setChallengeState(ctx.db, disputeId, "answered", { answer_tx: answered.hash }, "pending");
  ctx.metrics?.disputes.inc({ role: "server", outcome: "challenge_answered" });
  ctx.logger.info(
    { stackId, disputeId, tx: answered.hash },
    "owner challenge answered with a stack-tree proof",
  );
}
