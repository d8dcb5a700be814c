import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";
import { StackBusyError, StackClosedError, UnknownStackError } from "../errors.js";
import { leafFromRow, stackFromRow } from "./rows.js";
import type { Stack, StoredLeaf } from "./types.js";

export interface SettlementSnapshot {
  stack: Stack;
  /** Every leaf in index order: the Merkle tree's leaves and, through their requests, the inputs transcript. */
  leaves: StoredLeaf[];
  unitsClaimed: bigint;
}

/**
 * Closes a stack to new requests and snapshots what will be settled. Step one moves it from `active` to
 * `settling` (new reservations fail from then on; requests already in flight may still commit). Step two, in
 * one transaction, waits for none to be in flight (`StackBusyError` otherwise: call again shortly, the stack
 * stays closed), records a `settlements` row with the leaf count and units claimed, and returns the leaves.
 * Idempotent: after a crash, calling it again returns the same snapshot.
 */
export async function freezeForSettlement(db: NodeDb, stackId: bigint): Promise<SettlementSnapshot> {
  await db
    .updateTable("stacks")
    .set({ state: "settling", updated_at: sql`now()` })
    .where("stack_id", "=", stackId)
    .where("state", "=", "active")
    .execute();
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom("stacks")
      .selectAll()
      .where("stack_id", "=", stackId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw new UnknownStackError(stackId);
    if (row.state !== "settling") throw new StackClosedError(stackId, row.state);
    if (row.units_reserved > 0n) throw new StackBusyError(stackId, row.units_reserved);
    const existing = await trx
      .selectFrom("settlements")
      .select(["leaf_count", "units_claimed"])
      .where("stack_id", "=", stackId)
      .executeTakeFirst();
    const snapshot = existing ?? { leaf_count: row.leaf_count, units_claimed: row.units_used };
    if (!existing)
      await trx
        .insertInto("settlements")
        .values({ stack_id: stackId, leaf_count: row.leaf_count, units_claimed: row.units_used })
        .execute();
    const leaves = await trx
      .selectFrom("leaves")
      .selectAll()
      .where("stack_id", "=", stackId)
      .where("leaf_index", "<", snapshot.leaf_count)
      .orderBy("leaf_index")
      .execute();
    return {
      stack: stackFromRow(row),
      leaves: leaves.map(leafFromRow),
      unitsClaimed: snapshot.units_claimed,
    };
  });
}
