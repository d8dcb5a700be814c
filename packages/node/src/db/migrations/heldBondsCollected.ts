import type { Kysely, Migration } from "kysely";

/**
 * Whether the bonds the chain holds for this node's answers to a settlement's owner challenges were collected
 * (review rev W-1): they are collected from the settlement's state, whoever finalized it, so the worker must know
 * which settlements are done. Rows from before start at false: each challenged one is looked at once.
 */
export const heldBondsCollected: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("settlements")
      .addColumn("held_bonds_done", "boolean", (c) => c.notNull().defaultTo(false))
      .execute();
  },
};
