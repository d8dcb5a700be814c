import type { Kysely, Migration } from "kysely";
import { uint256 } from "./columns.js";

/**
 * The settlement worker's progress through the on-chain phases, one column per fact the chain told it (written by
 * the listener's handlers) or per transaction it sent (written by the worker), so every step resumes after a
 * restart from the row alone.
 */
export const settleProgress: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("settlements")
      .addColumn("sampled_indices", "jsonb")
      .addColumn("commit_deadline", "bigint")
      .addColumn("data_deadline", "bigint")
      .addColumn("data_tx", "text")
      .addColumn("reveal_deadline", "bigint")
      .addColumn("reveal_tx", "text")
      .addColumn("window_ends", "bigint")
      .addColumn("finalize_tx", "text")
      .addColumn("finalized_block", "bigint")
      .addColumn("node_amount", uint256)
      .addColumn("refunded", uint256)
      .addColumn("fee_epoch", uint256)
      .addColumn("outcome", "text")
      .execute();
    await db.schema.createIndex("settlements_by_state").on("settlements").column("state").execute();
  },
};
