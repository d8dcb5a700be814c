import { sql, type Transaction } from "kysely";
import type { GatewayDatabase } from "../db/schema.js";

/**
 * Locks what keys were charged on a stack and credited of its refunds until the transaction ends: a refund's split
 * (`RefundBook.credit`) and a held charge's give-back (`SealedCharges`) on one stack run one after the other, so a
 * split never reads a key's weight while its held charge is being given back (review H1).
 */
export async function lockStackCharges(tx: Transaction<GatewayDatabase>, stackId: bigint): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`atoma-stack-charges:${stackId}`}, 0))`.execute(
    tx,
  );
}
