import { type Kysely, type Migration, sql } from "kysely";

/**
 * SQLite only: the stacks whose latest leaves may not all be on disk yet (`accounting/liveStacks.ts`). PostgreSQL
 * syncs every leaf before its receipt goes out and has no such table.
 */
export const sqliteLiveStacks: Migration = {
  async up(db: Kysely<unknown>) {
    await sql.raw("create table if not exists live_stacks (stack_id text primary key)").execute(db);
  },
};
