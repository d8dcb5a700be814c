import { type Kysely, type Migration, sql } from "kysely";

/**
 * `0004_attest_duties`: what the attestation worker keeps per duty beyond version 1's columns. The serving node of
 * a committee duty is only learnt from the chain after the event (so it may be null until then); `event_block`
 * bounds the log searches for the stack's settlement; `result` is the vote (or the response hashes) kept for a
 * reveal after a restart.
 */
export const attestDuties: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`alter table attestation_tasks alter column serving_node_id drop not null`.execute(db);
    await db.schema.alterTable("attestation_tasks").addColumn("event_block", "bigint").execute();
    await db.schema.alterTable("attestation_tasks").addColumn("result", "text").execute();
    await db.schema
      .createIndex("attestation_tasks_by_state")
      .on("attestation_tasks")
      .columns(["state", "kind"])
      .execute();
  },
};
