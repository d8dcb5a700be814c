import type { Kysely } from "kysely";
import type { NodeDatabase } from "../db/schema.js";

/** Whether this node denied request `reqHash` at `nonce` of the stack (`denied_leaves`): it must never commit it there. */
export async function isDenied(
  db: Kysely<NodeDatabase>,
  stackId: bigint,
  nonce: bigint,
  reqHash: string,
): Promise<boolean> {
  const row = await db
    .selectFrom("denied_leaves")
    .select("nonce")
    .where("stack_id", "=", stackId)
    .where("nonce", "=", nonce)
    .where("req_hash", "=", reqHash.toLowerCase())
    .executeTakeFirst();
  return row !== undefined;
}

/** Records the denial before it is signed: from then on a commit of that request at that nonce is refused. */
export async function recordDenial(
  db: Kysely<NodeDatabase>,
  stackId: bigint,
  nonce: bigint,
  reqHash: string,
): Promise<void> {
  await db
    .insertInto("denied_leaves")
    .values({ stack_id: stackId, nonce, req_hash: reqHash.toLowerCase() })
    .onConflict((c) => c.doNothing())
    .execute();
}

/**
 * Drops the stack's denial records once it is settled: no leaf can be committed to it any more, so the record that
 * refuses a commit has nothing left to refuse (the signed denials stand on their own).
 */
export async function forgetDenials(db: Kysely<NodeDatabase>, stackId: bigint): Promise<void> {
  await db.deleteFrom("denied_leaves").where("stack_id", "=", stackId).execute();
}
