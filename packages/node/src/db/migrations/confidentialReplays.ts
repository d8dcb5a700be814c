import type { Kysely, Migration } from "kysely";

/**
 * The encapsulated keys of sealed requests the node opened, with the signed request (`stackId/nonce`) that used each
 * and its deadline: the replay guard, kept across restarts (an encryption key given in code outlives one).
 */
export const confidentialReplays: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("confidential_replays")
      .addColumn("enc", "text", (c) => c.primaryKey())
      .addColumn("owner", "text", (c) => c.notNull())
      .addColumn("deadline", "bigint", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("confidential_replays_deadline")
      .on("confidential_replays")
      .column("deadline")
      .execute();
  },
};
