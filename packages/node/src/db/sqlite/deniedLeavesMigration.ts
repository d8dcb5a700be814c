import { type Kysely, type Migration, sql } from "kysely";

/** PostgreSQL's `0013_api_denied_leaves` (`migrations/deniedLeaves.ts`), for SQLite. */
export const sqliteDeniedLeaves: Migration = {
  async up(db: Kysely<unknown>) {
    await sql
      .raw(
        `create table if not exists denied_leaves (stack_id text not null, nonce text not null, req_hash text not null,
          created_at text not null default current_timestamp, constraint denied_leaves_pk primary key (stack_id, nonce, req_hash))`,
      )
      .execute(db);
  },
};
