import { type Kysely, type Migration, sql } from "kysely";
import { timestamps, uint256 } from "./columns.js";

/**
 * Owner challenges of this node's accepted settlements, each answered with the leaf's Merkle proof before its
 * deadline (an unanswered challenge costs the node its collateral). Named to sort after `0003_settle_progress`.
 */
export const settleChallenges: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("settlement_challenges")
      .addColumn("dispute_id", uint256, (c) => c.primaryKey())
      .addColumn("stack_id", uint256, (c) => c.notNull().references("settlements.stack_id"))
      .addColumn("leaf_index", uint256, (c) => c.notNull())
      .addColumn("leaf", "text", (c) => c.notNull())
      .addColumn("answer_deadline", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull().defaultTo("pending"))
      .addColumn("answer_tx", "text")
      .addColumn("last_error", "text")
      .$call(timestamps)
      .addCheckConstraint(
        "settlement_challenges_state",
        sql`state in ('pending', 'answered', 'dismissed', 'upheld', 'unanswerable')`,
      )
      .execute();
  },
};
