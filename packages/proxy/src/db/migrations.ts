import { type Kysely, type Migration, type MigrationProvider, sql } from "kysely";

const wei = sql`numeric(78, 0)`;

/** Version 1: API keys with their budgets and limits, spend reservations, the stack pool and its receipts. */
const keysAndStacks: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("api_keys")
      .addColumn("key_id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("key_hash", "text", (c) => c.notNull().unique())
      .addColumn("key_prefix", "text", (c) => c.notNull())
      .addColumn("budget_wei", wei)
      .addColumn("spent_wei", wei, (c) => c.notNull().defaultTo(0))
      .addColumn("reserved_wei", wei, (c) => c.notNull().defaultTo(0))
      .addColumn("requests_per_minute", "integer")
      .addColumn("tokens_per_minute", "integer")
      .addColumn("allowed_models", "jsonb")
      .addColumn("expires_at_ms", "bigint")
      .addColumn("revoked_at_ms", "bigint")
      .addColumn("created_at_ms", "bigint", (c) => c.notNull())
      .addColumn("updated_at_ms", "bigint", (c) => c.notNull())
      .addCheckConstraint("api_keys_amounts", sql`spent_wei >= 0 and reserved_wei >= 0 and budget_wei >= 0`)
      .execute();

    await db.schema
      .createTable("spend_reservations")
      .addColumn("reservation_id", "text", (c) => c.primaryKey())
      .addColumn("key_id", "text", (c) => c.notNull().references("api_keys.key_id"))
      .addColumn("max_wei", wei, (c) => c.notNull().check(sql`max_wei >= 0`))
      .addColumn("expires_at_ms", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("spend_reservations_by_expiry")
      .on("spend_reservations")
      .column("expires_at_ms")
      .execute();

    await db.schema
      .createTable("stacks")
      .addColumn("stack_id", wei, (c) => c.primaryKey())
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("task_id", wei, (c) => c.notNull())
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("node_url", "text", (c) => c.notNull())
      .addColumn("node_signer", "text", (c) => c.notNull())
      .addColumn("units", "bigint", (c) => c.notNull())
      .addColumn("price_per_million", wei, (c) => c.notNull())
      .addColumn("expires_at", "bigint", (c) => c.notNull())
      .addColumn("units_used", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("next_nonce", wei, (c) => c.notNull().defaultTo(0))
      .addColumn("state", "text", (c) => c.notNull().defaultTo("idle"))
      .addColumn("lease_id", "text")
      .addColumn("leased_until_ms", "bigint")
      .addColumn("last_used_ms", "bigint")
      .addColumn("created_at_ms", "bigint", (c) => c.notNull())
      .addCheckConstraint("stacks_state", sql`state in ('idle', 'leased', 'retired')`)
      .addCheckConstraint("stacks_units", sql`units_used >= 0 and units_used <= units`)
      .execute();
    await db.schema.createIndex("stacks_by_model").on("stacks").columns(["model", "state"]).execute();

    await db.schema
      .createTable("receipts")
      .addColumn("stack_id", wei, (c) => c.notNull().references("stacks.stack_id"))
      .addColumn("leaf_index", wei, (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addColumn("receipt", "jsonb", (c) => c.notNull())
      .addColumn("created_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("receipts_pk", ["stack_id", "leaf_index", "signature"])
      .execute();
  },
};

/** Version 2: what each key used, per model and per UTC day (`GET /v1/usage`). */
const usage: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("usage_daily")
      .addColumn("key_id", "text", (c) => c.notNull().references("api_keys.key_id"))
      .addColumn("model", "text", (c) => c.notNull())
      .addColumn("day", "text", (c) => c.notNull())
      .addColumn("requests", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("tokens", "bigint", (c) => c.notNull().defaultTo(0))
      .addColumn("spend_wei", wei, (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("usage_daily_pk", ["key_id", "day", "model"])
      .execute();
  },
};

/**
 * Version 3: how far each gateway's journal was applied (`journal.ts`): a batch and its position commit together,
 * so a restart replays exactly what was not applied.
 */
const journalPositions: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("journal_positions")
      .addColumn("gateway_id", "text", (c) => c.primaryKey())
      .addColumn("applied_seq", "bigint", (c) => c.notNull())
      .execute();
  },
};

/**
 * Version 4: how far the gateway signed each stack's requests (a request signed and sent may have no receipt: the
 * node withheld it, or the gateway died first). A stack from before may have one such request past its receipts.
 */
const signedNonces: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("stacks")
      .addColumn("signed_below_nonce", wei, (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`update stacks set signed_below_nonce = next_nonce + 1`.execute(db);
  },
};

/**
 * Version 5: the largest unit bound (`maxUnits`) the gateway signed on each stack, so the watcher knows how much a
 * leaf it signed but holds no receipt for may claim.
 */
const signedMaxUnits: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("stacks")
      .addColumn("signed_max_units", wei, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/**
 * Version 6: every request the gateway signed, per stack and nonce (a set, not a high-water mark), with its unit
 * bound and what was sent (resent unchanged, to obtain its receipt, before the stack's next nonce is signed); and
 * which receipts the gateway refused (they count only up to their request's signed bound).
 */
const signedRequests: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("signed_requests")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("nonce", wei, (c) => c.notNull())
      .addColumn("max_units", wei, (c) => c.notNull())
      .addColumn("path", "text")
      .addColumn("json", "text")
      .addColumn("headers", "jsonb")
      .addColumn("created_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("signed_requests_pk", ["stack_id", "nonce"])
      .execute();
    await db.schema
      .alterTable("receipts")
      .addColumn("refused", "boolean", (c) => c.notNull().defaultTo(false))
      .execute();
  },
};

/**
 * Version 7: keys charged the whole reservation of a sealed stream that reached them with no receipt, held per stack
 * and nonce until the node's own word on that leaf (its receipt, when the request is resent) settles them.
 */
const sealedCharges: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("sealed_charges")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("nonce", wei, (c) => c.notNull())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("max_units", wei, (c) => c.notNull())
      .addColumn("price_per_million", wei, (c) => c.notNull())
      .addColumn("charged_wei", wei, (c) => c.notNull())
      .addColumn("created_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("sealed_charges_pk", ["stack_id", "nonce"])
      .execute();
  },
};

/**
 * Version 8: the owner challenges the gateway's watcher sent (review rev W-2, W-3), written before each transaction
 * goes out: a challenge is not sent twice and one left open is resolved after a restart, however old it is, with
 * no log search (the block it was sent at bounds the one for an id a transaction that outlived its wait left).
 */
const ownerChallenges: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("owner_challenges")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("leaf_index", wei, (c) => c.notNull())
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("sent_block", wei, (c) => c.notNull())
      .addColumn("challenge_id", wei)
      .addColumn("answer_deadline", "bigint")
      .addColumn("opened_at", wei)
      .addColumn("updated_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("owner_challenges_pk", ["stack_id", "kind", "leaf_index"])
      .addCheckConstraint("owner_challenges_kind", sql`kind in ('receipt', 'index')`)
      .addCheckConstraint(
        "owner_challenges_state",
        sql`state in ('sending', 'failed', 'open', 'closed', 'refused')`,
      )
      .execute();
    await db.schema.createIndex("owner_challenges_by_state").on("owner_challenges").column("state").execute();
  },
};

/**
 * Version 9 (issue 14, C-2): the statements level-3 nodes served the gateway, the refunds claimed for the lies among
 * them (one row per statement and stack, claimed atomically before its transaction goes out), and what each stack's
 * refunds credited to the key that paid.
 */
const refundClaims: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("served_statements")
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("epoch", wei, (c) => c.notNull())
      .addColumn("evidence_hash", "text", (c) => c.notNull())
      .addColumn("signature", "text", (c) => c.notNull())
      .addColumn("verdict", "text")
      .addColumn("seen_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("served_statements_pk", ["node_id", "epoch", "evidence_hash"])
      .addCheckConstraint("served_statements_verdict", sql`verdict is null or verdict in ('posted', 'lie')`)
      .execute();
    await db.schema
      .createTable("refund_claims")
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("epoch", wei, (c) => c.notNull())
      .addColumn("evidence_hash", "text", (c) => c.notNull())
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("sent_block", wei)
      .addColumn("tries", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_try_ms", "bigint", (c) => c.notNull())
      .addColumn("reason", "text")
      .addColumn("updated_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("refund_claims_pk", ["node_id", "epoch", "evidence_hash", "stack_id"])
      .addCheckConstraint(
        "refund_claims_state",
        sql`state in ('pending', 'sending', 'recorded', 'refunded', 'refused')`,
      )
      .execute();
    await db.schema.createIndex("refund_claims_by_state").on("refund_claims").column("state").execute();
    await db.schema
      .createTable("stack_refunds")
      .addColumn("stack_id", wei, (c) => c.primaryKey())
      .addColumn("key_id", "text")
      .addColumn("credited_wei", wei, (c) => c.notNull().defaultTo(0))
      .addColumn("updated_at_ms", "bigint", (c) => c.notNull())
      .execute();
  },
};

/**
 * Version 10 (review S5 F1, F2, F4, F5): unjudged statements found by an index rather than a scan, whether a
 * statement's hash was posted when it was kept (those are capped, the others never crowded out), and how far each
 * gateway wallet's refund logs were read (the chain's refunds of its stacks, whoever claimed them, and the lying
 * statements others proved on-chain against its nodes).
 */
const refundFollowing: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex("served_statements_unjudged")
      .on("served_statements")
      .column("epoch")
      .where(sql.ref("verdict"), "is", null)
      .execute();
    await db.schema
      .alterTable("served_statements")
      .addColumn("posted_when_kept", "boolean", (c) => c.notNull().defaultTo(false))
      .execute();
    await db.schema
      .createTable("refund_log_cursors")
      .addColumn("wallet", "text", (c) => c.primaryKey())
      .addColumn("next_block", wei, (c) => c.notNull())
      .execute();
  },
};

/**
 * Version 11: the request hash a held sealed charge was signed for (review s5 M2). A nonce given up past its deadline
 * is signed again for another request: only a receipt for the held request settles its charge at the receipt's units;
 * a receipt for another request at that leaf proves the held one was never served there, and its charge comes back
 * whole. Rows held before this version have none (NULL) and settle by stack and nonce as before.
 */
const sealedChargeRequestHash: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("sealed_charges").addColumn("req_hash", "text").execute();
  },
};

/**
 * Version 12 (issue 14, refunds split by charges): what each key was charged on each stack (`ChargeRecord.stackId`,
 * less what held sealed charges gave back), so a refund of a level-3 stack is split among the keys that paid for it
 * in proportion, and what each key was credited of each stack's refunds. A stack with no charges recorded (bought
 * before this version) keeps crediting the key noted in `stack_refunds.key_id`.
 */
const stackCharges: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("stack_charges")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("charged_wei", wei, (c) => c.notNull().defaultTo(0).check(sql`charged_wei >= 0`))
      .addPrimaryKeyConstraint("stack_charges_pk", ["stack_id", "key_id"])
      .execute();
    await db.schema
      .createTable("stack_refund_credits")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("credited_wei", wei, (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint("stack_refund_credits_pk", ["stack_id", "key_id"])
      .execute();
  },
};

/**
 * Version 13 (issue 14): the least a held sealed charge settles at, its session's hold for the time it held the stack
 * (`ConfidentialSessions`' `holdUnitsPerMinute`): a client aborting its sealed streams before their receipts must not
 * pay less than a session whose request was answered. Rows held before this version have 0 (no floor).
 */
const sealedChargeFloor: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("sealed_charges")
      .addColumn("floor_wei", wei, (c) => c.notNull().defaultTo(0))
      .execute();
  },
};

/**
 * Version 14 (review of issue 12, MEDIUM-2): what a budget slice had in flight when its gateway last wrote it down
 * (each growth, each maintenance run). A vanished gateway's expired slice is charged that, not all it held (sixteen
 * requests' maxima by default). Rows held before this version have none (NULL) and are charged in full as before.
 */
const sliceInFlight: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("spend_reservations").addColumn("in_flight_wei", wei).execute();
  },
};

/**
 * Version 15 (review speed-gwfix, B-2): what the sweep charged each slice it took from a vanished gateway. A charge
 * its journal applies later is charged past that amount, never dropped (the sweep charged only what was in flight
 * at the gateway's last write) and never twice (within that amount it was charged already).
 */
const sweptSlices: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("swept_slices")
      .addColumn("reservation_id", "text", (c) => c.primaryKey())
      .addColumn("key_id", "text", (c) => c.notNull())
      .addColumn("credit_wei", wei, (c) => c.notNull().check(sql`credit_wei >= 0`))
      .addColumn("swept_at_ms", "bigint", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("swept_slices_by_time").on("swept_slices").column("swept_at_ms").execute();
  },
};

/**
 * Version 16 (issue 12, gateway state past a restart): what each node was counted against for (cut streams, cut
 * streams' leaves billed above what they carried), each event with its time; the deadline each pending request
 * carried at the node's first 409 `request_in_flight` for it; and the leaves given up on the node's word (an error
 * answer, an unsigned `leaf_not_found`); and the requests left with no receipt after their stream was cut or stopped,
 * with what their streams carried. Gateways sharing a PostgreSQL count each other's.
 */
const nodeStrikes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("node_strikes")
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("at_ms", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("node_strikes_by_node")
      .on("node_strikes")
      .columns(["node_id", "kind", "at_ms"])
      .execute();
    await db.schema
      .createTable("first_deadlines")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("nonce", wei, (c) => c.notNull())
      .addColumn("req_hash", "text", (c) => c.notNull())
      .addColumn("deadline", wei, (c) => c.notNull())
      .addColumn("noted_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("first_deadlines_pk", ["stack_id", "nonce"])
      .execute();
    await db.schema
      .createTable("freed_leaves")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("nonce", wei, (c) => c.notNull())
      .addColumn("req_hash", "text", (c) => c.notNull())
      .addColumn("freed_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("freed_leaves_pk", ["stack_id", "nonce"])
      .execute();
    await db.schema
      .createTable("cut_requests")
      .addColumn("stack_id", wei, (c) => c.notNull())
      .addColumn("nonce", wei, (c) => c.notNull())
      .addColumn("req_hash", "text", (c) => c.notNull())
      .addColumn("relayed_units", wei, (c) => c.notNull())
      .addColumn("streamed", "boolean", (c) => c.notNull())
      .addColumn("cut_at_ms", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("cut_requests_pk", ["stack_id", "nonce"])
      .execute();
  },
};

/**
 * Version 17 (review of issue 12): the requests each node answered, flushed by each gateway every few seconds, so a
 * node's cut events (`node_strikes`, shared) are weighed against its answers at every gateway and past a restart; the
 * cut requests by age (pruned after a week), and the first deadlines by age.
 */
const nodeAnswers: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("node_answers")
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("at_ms", "bigint", (c) => c.notNull())
      .addColumn("count", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("node_answers_by_node")
      .on("node_answers")
      .columns(["node_id", "at_ms"])
      .execute();
    await db.schema.createIndex("node_answers_by_time").on("node_answers").column("at_ms").execute();
    await db.schema.createIndex("cut_requests_by_time").on("cut_requests").column("cut_at_ms").execute();
    await db.schema
      .createIndex("first_deadlines_by_time")
      .on("first_deadlines")
      .column("noted_at_ms")
      .execute();
  },
};

/**
 * Version 18 (issue 12, denied leaves): a nonce freed on the node's word keeps that word, its signed `AtomaLeafDenial`
 * (`denial_signature`), until the stack's settlement is checked against it; a freed request shown later is counted
 * once (`shown`). One row per request freed at a nonce: a nonce freed twice keeps both denials.
 */
const deniedLeaves: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("freed_leaves").addColumn("denial_signature", "text").execute();
    await db.schema
      .alterTable("freed_leaves")
      .addColumn("shown", "boolean", (c) => c.notNull().defaultTo(false))
      .execute();
    await db.schema.alterTable("freed_leaves").dropConstraint("freed_leaves_pk").execute();
    await db.schema
      .alterTable("freed_leaves")
      .addPrimaryKeyConstraint("freed_leaves_pk", ["stack_id", "nonce", "req_hash"])
      .execute();
  },
};

/**
 * Version 19 (issue 12, usage of held charges): where a held charge shows in the usage book (its model, UTC day and
 * the units shown), so its give-back comes off `/v1/usage` as it comes off the key's spend. NULL: held before this,
 * or held with no usage (its give-back moves the spend only).
 */
const heldChargeUsage: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("sealed_charges").addColumn("usage_model", "text").execute();
    await db.schema.alterTable("sealed_charges").addColumn("usage_day", "text").execute();
    await db.schema.alterTable("sealed_charges").addColumn("usage_tokens", "bigint").execute();
  },
};

/**
 * Version 20 (issue 12, `node_answers` growth): a node's answers kept per slice of the cut window (one row per node and
 * slice start, added to by every gateway's flush) instead of a row per flush; the rows kept so far are summed into
 * slices of their own times.
 */
const nodeAnswerSlices: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("node_answer_slices")
      .addColumn("node_id", wei, (c) => c.notNull())
      .addColumn("at_ms", "bigint", (c) => c.notNull())
      .addColumn("count", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("node_answer_slices_pk", ["node_id", "at_ms"])
      .execute();
    await sql`insert into node_answer_slices (node_id, at_ms, count)
      select node_id, at_ms, sum(count) from node_answers group by node_id, at_ms`.execute(db);
    await db.schema.dropTable("node_answers").execute();
    await db.schema.alterTable("node_answer_slices").renameTo("node_answers").execute();
    await db.schema.createIndex("node_answer_slices_by_time").on("node_answers").column("at_ms").execute();
  },
};

/**
 * Version 21 (issue 12): the nodes a gateway took out of rotation for good (`RemovedNodes`), so a restart or another
 * gateway on the database without Redis does not put them back.
 */
const removedNodes: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("removed_nodes")
      .addColumn("node_id", wei, (c) => c.primaryKey())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("at_ms", "bigint", (c) => c.notNull())
      .execute();
  },
};

/** The migrations in order, from code (the built package needs no files on disk). Append; never edit. */
export const gatewayMigrations: MigrationProvider = {
  async getMigrations() {
    return {
      "0001_keys_and_stacks": keysAndStacks,
      "0002_usage": usage,
      "0003_journal_positions": journalPositions,
      "0004_signed_nonces": signedNonces,
      "0005_signed_max_units": signedMaxUnits,
      "0006_signed_requests": signedRequests,
      "0007_sealed_charges": sealedCharges,
      "0008_owner_challenges": ownerChallenges,
      "0009_refund_claims": refundClaims,
      "0010_refund_following": refundFollowing,
      "0011_sealed_charge_request_hash": sealedChargeRequestHash,
      "0012_stack_charges": stackCharges,
      "0013_sealed_charge_floor": sealedChargeFloor,
      "0014_slice_in_flight": sliceInFlight,
      "0015_swept_slices": sweptSlices,
      "0016_node_strikes": nodeStrikes,
      "0017_node_answers": nodeAnswers,
      "0018_denied_leaves": deniedLeaves,
      "0019_held_charge_usage": heldChargeUsage,
      "0020_node_answer_slices": nodeAnswerSlices,
      "0021_removed_nodes": removedNodes,
    };
  },
};
