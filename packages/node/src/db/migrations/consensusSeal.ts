import { type Kysely, type Migration, sql } from "kysely";
import { retryColumns, uint256 } from "./columns.js";

/**
 * Schema version 6 (issue 10, items 6, 10 and 13): seats seal before they reveal, and are drawn in a later block
 * than the request. `consensus_seats` keeps the seal's salt (stored before the seal is sent, so a restart can still
 * reveal) and the reveal deadline; `commit_deadline` is the seal deadline. A seat may be recorded before its
 * prompt, task and unit budget are read (the draw and the request are separate events), so those may be null.
 * `consensus_draws` holds requests whose seats are still to be drawn, on tasks this node may draw for.
 */
export const consensusSeal: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("consensus_seats")
      .addColumn("salt", "text")
      .addColumn("reveal_deadline", "bigint")
      .execute();
    for (const column of ["prompt", "task_id", "max_units"])
      await db.schema
        .alterTable("consensus_seats")
        .alterColumn(column, (c) => c.dropNotNull())
        .execute();
    await sql`alter table consensus_seats drop constraint consensus_seats_state_check`.execute(db);
    await sql`alter table consensus_seats add constraint consensus_seats_state_check check (state in
      ('pending', 'sealed', 'revealed', 'committed', 'missed', 'disputed', 'delivering', 'done', 'failed'))`.execute(
      db,
    );

    await db.schema
      .createTable("consensus_draws")
      .addColumn("request_id", uint256, (c) => c.primaryKey())
      .addColumn("task_id", uint256, (c) => c.notNull())
      .addColumn("n", "integer", (c) => c.notNull())
      .addColumn("prompt", "text", (c) => c.notNull())
      .addColumn("max_units", "bigint", (c) => c.notNull())
      .addColumn("draw_block", "bigint", (c) => c.notNull())
      .addColumn("candidates", "text", (c) => c.notNull())
      .addColumn("state", "text", (c) =>
        c.notNull().defaultTo("pending").check(sql`state in ('pending', 'done', 'skipped', 'failed')`),
      )
      .$call(retryColumns)
      .execute();
    await db.schema.createIndex("consensus_draws_by_state").on("consensus_draws").column("state").execute();
  },
};
