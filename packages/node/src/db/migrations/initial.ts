import { type Kysely, type Migration, sql } from "kysely";
import { now, retryColumns, timestamps, uint256 } from "./columns.js";

/** Schema version 1: every table issue 5 needs. New versions are appended, never edited. */
export const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("stacks")
      .addColumn("stack_id", uint256, (c) => c.primaryKey())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("task_id", uint256, (c) => c.notNull())
      .addColumn("serving_node_id", uint256, (c) => c.notNull())
      .addColumn("units_bought", "bigint", (c) => c.notNull())
      .addColumn("units_reserved", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("units_used", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("leaf_count", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("price_per_million", uint256, (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull().defaultTo("active"))
      .$call(timestamps)
      .addCheckConstraint("stacks_units_non_negative", sql`units_reserved >= 0 and units_used >= 0`)
      .addCheckConstraint("stacks_never_over_committed", sql`units_used + units_reserved <= units_bought`)
      .addCheckConstraint("stacks_state", sql`state in ('active', 'settling', 'settled')`)
      .execute();

    await db.schema
      .createTable("reservations")
      .addColumn("reservation_id", "text", (c) => c.primaryKey())
      .addColumn("stack_id", uint256, (c) => c.notNull().references("stacks.stack_id"))
      .addColumn("units", "bigint", (c) => c.notNull().check(sql`units > 0`))
      .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(now))
      .execute();

    await db.schema
      .createTable("request_nonces")
      .addColumn("stack_id", uint256, (c) => c.notNull().references("stacks.stack_id"))
      .addColumn("nonce", uint256, (c) => c.notNull())
      .addColumn("deadline", "bigint", (c) => c.notNull())
      .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(now))
      .addPrimaryKeyConstraint("request_nonces_pk", ["stack_id", "nonce"])
      .execute();

    await db.schema
      .createTable("leaves")
      .addColumn("stack_id", uint256, (c) => c.notNull().references("stacks.stack_id"))
      .addColumn("leaf_index", "bigint", (c) => c.notNull())
      .addColumn("req_hash", "text", (c) => c.notNull())
      .addColumn("resp_hash", "text", (c) => c.notNull())
      .addColumn("leaf_hash", "text", (c) => c.notNull())
      .addColumn("units", "bigint", (c) => c.notNull())
      .addColumn("cumulative_units", "bigint", (c) => c.notNull())
      .addColumn("seed", "bigint", (c) => c.notNull())
      .addColumn("nonce", uint256)
      .addColumn("request", "jsonb", (c) => c.notNull())
      .addColumn("response", "jsonb")
      .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(now))
      .addPrimaryKeyConstraint("leaves_pk", ["stack_id", "leaf_index"])
      .addUniqueConstraint("leaves_nonce_once", ["stack_id", "nonce"])
      .execute();

    await db.schema
      .createTable("settlements")
      .addColumn("stack_id", uint256, (c) => c.primaryKey().references("stacks.stack_id"))
      .addColumn("state", "text", (c) => c.notNull().defaultTo("pending"))
      .addColumn("leaf_count", "bigint", (c) => c.notNull())
      .addColumn("units_claimed", "bigint", (c) => c.notNull())
      .addColumn("merkle_root", "text")
      .addColumn("transcript_blob_id", "text")
      .addColumn("settle_tx", "text")
      .addColumn("claim_tx", "text")
      .$call(retryColumns)
      .execute();

    await db.schema
      .createTable("attestation_tasks")
      .addColumn("task_id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
      .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('attest', 'committee', 'reveal')`))
      .addColumn("stack_id", uint256, (c) => c.notNull())
      .addColumn("round", uint256, (c) => c.notNull())
      .addColumn("serving_node_id", uint256, (c) => c.notNull())
      .addColumn("transcript_blob_id", "text")
      .addColumn("sampled_indices", "jsonb", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull().defaultTo("pending"))
      .addColumn("commitment", "text")
      .addColumn("commit_deadline", "bigint")
      .addColumn("reveal_deadline", "bigint")
      .addColumn("tx_hash", "text")
      .$call(retryColumns)
      .addUniqueConstraint("attestation_tasks_once", ["kind", "stack_id", "round"])
      .execute();

    await db.schema
      .createTable("chain_cursors")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("next_block", "bigint", (c) => c.notNull())
      .addColumn("last_block_hash", "text")
      .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(now))
      .execute();

    await db.schema.createIndex("stacks_by_state").on("stacks").columns(["state", "expires_at"]).execute();
    await db.schema.createIndex("reservations_by_stack").on("reservations").column("stack_id").execute();
  },
};
