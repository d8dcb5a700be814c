import { type Selectable, sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { ChallengeState, SettlementChallengesTable } from "../db/schema.js";

export type ChallengeRow = Selectable<SettlementChallengesTable>;

/** Records an owner's challenge when it concerns a settlement of this node (one it froze); false otherwise. */
export async function recordChallenge(
  db: NodeDb,
  challenge: { disputeId: bigint; stackId: bigint; leafIndex: bigint; leaf: string; answerDeadline: bigint },
): Promise<boolean> {
  const ours = await db
    .selectFrom("settlements")
    .select("stack_id")
    .where("stack_id", "=", challenge.stackId)
    .executeTakeFirst();
  if (!ours) return false;
  await db
    .insertInto("settlement_challenges")
    .values({
      dispute_id: challenge.disputeId,
      stack_id: challenge.stackId,
      leaf_index: challenge.leafIndex,
      leaf: challenge.leaf.toLowerCase(),
      answer_deadline: challenge.answerDeadline,
    })
    .onConflict((oc) => oc.column("dispute_id").doNothing())
    .execute();
  return true;
}

export async function setChallengeState(
  db: NodeDb,
  disputeId: bigint,
  state: ChallengeState,
  fields: { answer_tx?: string; last_error?: string } = {},
  onlyFrom?: ChallengeState,
): Promise<void> {
  let update = db
    .updateTable("settlement_challenges")
    .set({ state, ...fields, updated_at: sql`current_timestamp` })
    .where("dispute_id", "=", disputeId);
  if (onlyFrom) update = update.where("state", "=", onlyFrom);
  await update.execute();
}

/** Keeps the transaction that answered a challenge, whatever state the challenge has reached since. */
export async function recordChallengeAnswer(db: NodeDb, disputeId: bigint, tx: string): Promise<void> {
  await db
    .updateTable("settlement_challenges")
    .set({ answer_tx: tx, updated_at: sql`current_timestamp` })
    .where("dispute_id", "=", disputeId)
    .execute();
}

export function listPendingChallenges(db: NodeDb): Promise<ChallengeRow[]> {
  return db
    .selectFrom("settlement_challenges")
    .selectAll()
    .where("state", "=", "pending")
    .orderBy("answer_deadline")
    .limit(1_000)
    .execute();
}
