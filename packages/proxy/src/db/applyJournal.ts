import { sql } from "kysely";
import type { ChargeRecord, JournalRecord } from "./journal.js";
import type { GatewayDb } from "./openGatewayDatabase.js";

/**
 * Applies one journal record (inside the flusher's transaction, or alone where no journal is kept). Receipts and
 * stack progress (and the nonces signed) are idempotent; a charge moves its cost from its slice to the key's spending (a slice already
 * swept — charged in full — is not charged again, and `false` says so); charges and usage count as often as they
 * are applied, which the journal position makes once. Run it in a transaction.
 */
export async function applyJournalRecord(db: GatewayDb, record: JournalRecord): Promise<boolean> {
  switch (record.kind) {
    case "receipt":
      await db
        .insertInto("receipts")
        .values({
          stack_id: record.receipt.stackId ?? "0",
          leaf_index: record.receipt.leafIndex ?? "0",
          signature: record.receipt.signature ?? "",
          receipt: JSON.stringify(record.receipt),
          created_at_ms: record.atMs,
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      return true;
    case "stack":
      await db
        .updateTable("stacks")
        .set((eb) => ({
          units_used: eb.fn("greatest", [eb.ref("units_used"), eb.val(record.unitsUsed)]),
          next_nonce: eb.fn("greatest", [eb.ref("next_nonce"), eb.val(record.nextNonce)]),
          last_used_ms: eb.fn("greatest", [eb.ref("last_used_ms"), eb.val(record.atMs)]),
        }))
        .where("stack_id", "=", BigInt(record.stackId))
        .execute();
      return true;
    case "signed":
      await db
        .updateTable("stacks")
        .set((eb) => ({
          signed_below_nonce: eb.fn("greatest", [
            eb.ref("signed_below_nonce"),
            eb.val(String(BigInt(record.nonce) + 1n)),
          ]),
          signed_max_units: eb.fn("greatest", [eb.ref("signed_max_units"), eb.val(record.maxUnits ?? "0")]),
        }))
        .where("stack_id", "=", BigInt(record.stackId))
        .execute();
      return true;
    case "charge":
      return applyCharge(db, record);
  }
}

async function applyCharge(db: GatewayDb, record: ChargeRecord): Promise<boolean> {
  // The key's row first, as a slice's growth takes it (then its slice's): two gateways never wait on each other.
  await db.selectFrom("api_keys").select("key_id").where("key_id", "=", record.keyId).forUpdate().execute();
  // The cost leaves the slice (never below zero: an answer dearer than its maximum is charged all the same).
  const row = await db
    .selectFrom("spend_reservations")
    .select(["key_id", "max_wei"])
    .where("reservation_id", "=", record.reservationId)
    .forUpdate()
    .executeTakeFirst();
  if (row) {
    const cost = BigInt(record.costWei);
    const released = cost < row.max_wei ? cost : row.max_wei;
    await db
      .updateTable("spend_reservations")
      .set({ max_wei: sql`max_wei - ${released}` })
      .where("reservation_id", "=", record.reservationId)
      .execute();
    await db
      .updateTable("api_keys")
      .set({
        reserved_wei: sql`reserved_wei - ${released}`,
        spent_wei: sql`spent_wei + ${record.costWei}::numeric`,
      })
      .where("key_id", "=", row.key_id)
      .execute();
  }
  const { usage } = record;
  if (usage)
    await db
      .insertInto("usage_daily")
      .values({
        key_id: record.keyId,
        model: usage.model,
        day: usage.day,
        requests: 1,
        tokens: usage.tokens,
        spend_wei: record.costWei,
      })
      .onConflict((oc) =>
        oc.columns(["key_id", "day", "model"]).doUpdateSet({
          requests: sql`usage_daily.requests + 1`,
          tokens: sql`usage_daily.tokens + ${usage.tokens}::bigint`,
          spend_wei: sql`usage_daily.spend_wei + ${record.costWei}::numeric`,
        }),
      )
      .execute();
  return row !== undefined;
}
