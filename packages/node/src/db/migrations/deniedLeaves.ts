import { type Kysely, type Migration, sql } from "kysely";
import { uint256 } from "./columns.js";

/**
 * The requests this node signed an `AtomaLeafDenial` for: "no leaf for request `req_hash` at `nonce` of the stack, and
 * none will be committed". Kept across restarts: a leaf committed there for that request later is slashed as fraud.
 */
export const deniedLeaves: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("denied_leaves")
      .addColumn("stack_id", uint256, (c) => c.notNull())
      .addColumn("nonce", uint256, (c) => c.notNull())
      .addColumn("req_hash", "text", (c) => c.notNull())
      .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
      .addPrimaryKeyConstraint("denied_leaves_pk", ["stack_id", "nonce", "req_hash"])
      .execute();
  },
};
