import { type Selectable, sql } from "kysely";
import { forgetDenials } from "../accounting/deniedLeaves.js";
import type { NodeDb } from "../db/openStateDatabase.js";
import type { SettlementOutcome, SettlementState, SettlementsTable, StackState } from "../db/schema.js";
import { uint256Digits } from "../db/uint256Order.js";

export type SettlementRow = Selectable<SettlementsTable>;

/** States in which the worker still has something to do (claims come from `settled`). */
const OPEN: SettlementState[] = ["pending", "submitted", "attesting", "settled"];

/** Settlements the worker may need to move on, oldest first. */
export function listOpenSettlements(db: NodeDb, limit = 1_000): Promise<SettlementRow[]> {
  return db
    .selectFrom("settlements")
    .selectAll()
    .where("state", "in", OPEN)
    .orderBy("created_at")
    .orderBy(uint256Digits("stack_id"))
    .orderBy("stack_id")
    .limit(limit)
    .execute();
}

/** Stacks this node serves that are closed to requests (the owner asked, or a freeze began) but not yet frozen. */
export async function listUnfrozenSettlingStacks(db: NodeDb, servingNodeId: bigint): Promise<bigint[]> {
  const rows = await db
    .selectFrom("stacks")
    .leftJoin("settlements", "settlements.stack_id", "stacks.stack_id")
    .select("stacks.stack_id")
    .where("stacks.serving_node_id", "=", servingNodeId)
    .where("stacks.state", "=", "settling")
    .where("settlements.stack_id", "is", null)
    .limit(1_000)
    .execute();
  return rows.map((row) => row.stack_id);
}

type Progress = Partial<Omit<SettlementRow, "stack_id" | "created_at" | "updated_at" | "sampled_indices">> & {
  sampled_indices?: string | null;
};

/** Sets columns of one settlement (through the listener's transaction when a handler calls it). */
export async function updateSettlement(db: NodeDb, stackId: bigint, progress: Progress): Promise<boolean> {
  const updated = await db
    .updateTable("settlements")
    .set({ ...progress, updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stackId)
    .returning("stack_id")
    .executeTakeFirst();
  return updated !== undefined;
}

/**
 * Records the settle transaction; moves `pending` to `submitted` without undoing a later state an event set.
 * With `onlyIfUnknown`, a transaction already recorded is kept.
 */
export async function recordSubmission(
  db: NodeDb,
  stackId: bigint,
  settleTx: string | null,
  onlyIfUnknown = false,
): Promise<void> {
  await db
    .updateTable("settlements")
    .set({
      settle_tx: onlyIfUnknown ? sql`coalesce(settle_tx, ${settleTx})` : settleTx,
      state: sql`case when state = 'pending' then 'submitted' else state end`,
      updated_at: sql`current_timestamp`,
    })
    .where("stack_id", "=", stackId)
    .execute();
}

/** Whether this database holds the stack as served by `servingNodeId`. */
export async function isServedStack(db: NodeDb, stack: { stackId: bigint; servingNodeId: bigint }) {
  const row = await db
    .selectFrom("stacks")
    .select("stack_id")
    .where("stack_id", "=", stack.stackId)
    .where("serving_node_id", "=", stack.servingNodeId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Ends a settlement that will not be paid; `reason` is kept in `last_error`. */
export async function markSettlementFailed(
  db: NodeDb,
  stackId: bigint,
  outcome: SettlementOutcome,
  reason: string,
): Promise<boolean> {
  return updateSettlement(db, stackId, { state: "failed", outcome, last_error: reason });
}

/** Counts a failed attempt, keeping its error's code and message (never a payload). */
export async function recordAttemptError(db: NodeDb, stackId: bigint, error: string): Promise<void> {
  await db
    .updateTable("settlements")
    .set({ attempts: sql`attempts + 1`, last_error: error.slice(0, 500), updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stackId)
    .execute();
}

/** The sampled indices as numbers (they are stored as decimal strings). */
export function sampledIndicesOf(row: SettlementRow): number[] {
  const raw = row.sampled_indices;
  if (!Array.isArray(raw)) return [];
  return raw.map((value) => Number(value));
}

/**
 * Moves a stack this database holds from `from` to `to` when `servingNodeId` serves it (events name the node;
 * the stacks table only holds this node's stacks, so another node's events change nothing).
 */
export async function moveServedStack(
  db: NodeDb,
  stack: { stackId: bigint; servingNodeId: bigint },
  from: readonly StackState[],
  to: StackState,
): Promise<boolean> {
  const moved = await db
    .updateTable("stacks")
    .set({ state: to, updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stack.stackId)
    .where("serving_node_id", "=", stack.servingNodeId)
    .where("state", "in", [...from])
    .returning("stack_id")
    .executeTakeFirst();
  if (moved !== undefined && to === "settled") await forgetDenials(db, stack.stackId);
  return moved !== undefined;
}
