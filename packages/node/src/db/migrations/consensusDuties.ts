import { type Kysely, type Migration, sql } from "kysely";
import { retryColumns, uint256 } from "./columns.js";

/**
 * Schema version 5 (issue 6): the node's duties in n-node Sampling Consensus. `consensus_seats` holds a smart-
 * contract request this node was sampled for (compute, commit, deliver); `consensus_votes` a consensus dispute
 * whose committee it sits on (recompute, commit, reveal, resolve).
 */
export const consensusDuties: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("consensus_seats")
      .addColumn("request_id", uint256, (c) => c.primaryKey())
      .addColumn("node_id", uint256, (c) => c.notNull())
      .addColumn("seat_index", "integer", (c) => c.notNull())
      .addColumn("n", "integer", (c) => c.notNull())
      .addColumn("task_id", uint256, (c) => c.notNull())
      .addColumn("prompt", "text", (c) => c.notNull())
      .addColumn("max_units", "bigint", (c) => c.notNull())
      .addColumn("commit_deadline", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) =>
        c
          .notNull()
          .defaultTo("pending")
          .check(
            sql`state in ('pending', 'committed', 'missed', 'disputed', 'delivering', 'done', 'failed')`,
          ),
      )
      .addColumn("output", "text")
      .addColumn("units", "bigint")
      .addColumn("root", "text")
      .addColumn("agreed_root", "text")
      .addColumn("delivery_deadline", "bigint")
      .addColumn("dispute_id", uint256)
      .addColumn("dispute_deadline", "bigint")
      .addColumn("outcome", "text")
      .addColumn("tx_hash", "text")
      .$call(retryColumns)
      .execute();

    await db.schema
      .createTable("consensus_votes")
      .addColumn("dispute_id", uint256, (c) => c.primaryKey())
      .addColumn("request_id", uint256, (c) => c.notNull())
      .addColumn("node_id", uint256, (c) => c.notNull())
      .addColumn("commit_deadline", "bigint", (c) => c.notNull())
      .addColumn("reveal_deadline", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) =>
        c
          .notNull()
          .defaultTo("pending")
          .check(sql`state in ('pending', 'committed', 'revealed', 'done', 'failed')`),
      )
      .addColumn("output", "text")
      .addColumn("result", "text")
      .addColumn("salt", "text")
      .addColumn("outcome", "text")
      .addColumn("tx_hash", "text")
      .$call(retryColumns)
      .execute();

    await db.schema.createIndex("consensus_seats_by_state").on("consensus_seats").column("state").execute();
    await db.schema.createIndex("consensus_votes_by_state").on("consensus_votes").column("state").execute();
  },
};
