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

/** The least settlement window the StackManager allows: a stack's deadline is at least this long after expiry. */
const MIN_SETTLE_WINDOW_SECONDS = 60n;

export interface FreezeOptions {
  /** Unix seconds. @default the system clock */
  nowSeconds?: bigint | undefined;
  /**
   * How long before the stack's settlement deadline the freeze stops waiting for requests in flight: it gives
   * them up (they are neither recorded nor delivered) and settles what is committed. @default 60
   */
  marginSeconds?: bigint | undefined;
}

/**
 * Closes a stack to new requests and snapshots what will be settled. Step one moves it from `active` to
 * `settling` (new reservations fail from then on; requests already in flight may still commit). Step two, in
 * one transaction, waits for none to be in flight (`StackBusyError` otherwise: call again shortly, the stack
 * stays closed), records a `settlements` row with the leaf count and units claimed, and returns the leaves.
 * Within `marginSeconds` of the settlement deadline (the one the chain set when the owner closed the stack, or
 * else expiry plus the least window) it waits no longer: the reservations still open are dropped first, so no
 * request — a stalled one, or one an owner keeps open on purpose — can hold the settlement past its deadline.
 * Idempotent: after a crash, calling it again returns the same snapshot.
 */
export async function freezeForSettlement(
  db: NodeDb,
  stackId: bigint,
  options: FreezeOptions = {},
): Promise<SettlementSnapshot> {
  await db
    .updateTable("stacks")
    .set({ state: "settling", updated_at: sql`current_timestamp` })
    .where("stack_id", "=", stackId)
    .where("state", "=", "active")
    .execute();
  const nowSeconds = options.nowSeconds ?? BigInt(Math.floor(Date.now() / 1000));
  await abandonNearDeadline(db, stackId, nowSeconds + (options.marginSeconds ?? 60n));
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

/**
 * Drops the open reservations of a settling stack whose settlement deadline is at or before `horizon`. Locks
 * reservations before the stack row, in the order `commit` and `release` take them.
 */
async function abandonNearDeadline(db: NodeDb, stackId: bigint, horizon: bigint): Promise<void> {
  const row = await db
    .selectFrom("stacks")
    .select(["state", "units_reserved", "expires_at", "settle_deadline"])
    .where("stack_id", "=", stackId)
    .executeTakeFirst();
  if (row?.state !== "settling" || row.units_reserved === 0n) return;
  const deadline = row.settle_deadline ?? row.expires_at + MIN_SETTLE_WINDOW_SECONDS;
  if (horizon < deadline) return;
  await db.transaction().execute(async (trx) => {
    const dropped = await trx
      .deleteFrom("reservations")
      .where("stack_id", "=", stackId)
      .returning("units")
      .execute();
    const units = dropped.reduce((sum, reservation) => sum + reservation.units, 0n);
    if (units === 0n) return;
    await trx
      .updateTable("stacks")
      .set((eb) => ({ units_reserved: eb("units_reserved", "-", units), updated_at: sql`current_timestamp` }))
      .where("stack_id", "=", stackId)
      .execute();
  });
}
