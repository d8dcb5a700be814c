import { answerChallenge, answerIndexChallenge } from "@atoma/chain";
import { StackTree, type TranscriptEntry } from "@atoma/core";
import { listLeaves } from "../accounting/stacks.js";
import type { StoredLeaf } from "../accounting/types.js";
import type { DutyEnv } from "../duties/dutyEnv.js";
import { type ChallengeRow, recordChallengeAnswer, setChallengeState } from "./challengeRows.js";

/** An index challenge names no leaf: the chain records it with a zero leaf hash. */
const NO_LEAF = `0x${"0".repeat(64)}`;

async function unanswerable(ctx: DutyEnv, challenge: ChallengeRow, reason: string): Promise<void> {
  await setChallengeState(ctx.db, challenge.dispute_id, "unanswerable", { last_error: reason });
  ctx.logger.error(
    { stackId: challenge.stack_id, disputeId: challenge.dispute_id },
    `challenge cannot be answered: ${reason}`,
  );
}

/**
 * Answers an owner's challenge of a settled stack. A receipt challenge: the challenged leaf's proof under the
 * submitted root (a leaf the node never settled cannot be proved). An index challenge: the leaf at the index, its
 * proof, and the owner's signature on its request, kept in the leaf's transcript entry.
 */
export async function answerOwnerChallenge(ctx: DutyEnv, challenge: ChallengeRow): Promise<void> {
  const { dispute_id: disputeId, stack_id: stackId } = challenge;
  const settlement = await ctx.db
    .selectFrom("settlements")
    .select("leaf_count")
    .where("stack_id", "=", stackId)
    .executeTakeFirstOrThrow();
  const leaves = await listLeaves(ctx.db, stackId, { limit: Number(settlement.leaf_count) });
  const index = Number(challenge.leaf_index);
  const leaf = leaves[index];
  const indexChallenge = challenge.leaf === NO_LEAF;
  if (!leaf || (!indexChallenge && leaf.leafHash.toLowerCase() !== challenge.leaf)) {
    await unanswerable(ctx, challenge, "the challenged leaf is not among the settled leaves");
    return;
  }
  const tree = new StackTree(leaves.map((stored) => stored.leafHash));
  const proof = tree.proof(index);
  let answered: { hash: string };
  if (indexChallenge) {
    const request = leaf.request as Partial<TranscriptEntry> | undefined;
    if (
      !request?.signature ||
      request.deadline === undefined ||
      request.max_units === undefined ||
      BigInt(request.nonce ?? -1) !== leaf.nonce
    ) {
      await unanswerable(ctx, challenge, "the challenged leaf has no owner-signed request stored");
      return;
    }
    answered = await answerIndexChallenge(ctx.seat, {
      challengeId: disputeId,
      leaf: leafFields(leaf),
      deadline: BigInt(request.deadline),
      maxUnits: BigInt(request.max_units),
      ownerSignature: request.signature,
      proof,
      ...previousLeaf(leaves, tree, index),
    });
  } else {
    answered = await answerChallenge(ctx.seat, { challengeId: disputeId, proof });
  }
  // The listener may already have seen the challenge resolved (dismissed): the answer's tx is kept either way.
  await recordChallengeAnswer(ctx.db, disputeId, answered.hash);
  await setChallengeState(ctx.db, disputeId, "answered", {}, "pending");
  ctx.metrics?.disputes.inc({ role: "server", outcome: "challenge_answered" });
  ctx.logger.info(
    { stackId, disputeId, tx: answered.hash, indexChallenge },
    indexChallenge
      ? "owner index challenge answered with the owner-signed request and a stack-tree proof"
      : "owner challenge answered with a stack-tree proof",
  );
}

/** The leaf before the challenged one and its proof: the chain checks the running total follows from it. */
function previousLeaf(leaves: readonly StoredLeaf[], tree: StackTree, index: number) {
  const previous = index > 0 ? leaves[index - 1] : undefined;
  return previous
    ? { previous: leafFields(previous), previousProof: tree.proof(index - 1) }
    : { previous: undefined, previousProof: [] };
}

function leafFields(leaf: StoredLeaf) {
  return {
    leafIndex: leaf.leafIndex,
    nonce: leaf.nonce,
    reqHash: leaf.reqHash,
    respHash: leaf.respHash,
    units: leaf.units,
    cumulativeUnits: leaf.cumulativeUnits,
  };
}
