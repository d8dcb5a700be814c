import type { Kysely, Migration } from "kysely";

/**
 * The chain's settlement deadline of a stack its owner closed (`StackClosed`), so freezing it for settlement
 * stops waiting for requests in flight before that deadline comes (null: not closed, or closed before this
 * column; expiry then bounds it).
 */
export const stackSettleDeadline: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("stacks").addColumn("settle_deadline", "bigint").execute();
  },
};
