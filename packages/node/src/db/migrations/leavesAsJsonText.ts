import { type Kysely, type Migration, sql } from "kysely";

/**
 * A leaf keeps its signed request and its response as the JSON text the node wrote, not as jsonb: jsonb refuses
 * `\u0000` and unpaired surrogate escapes, and reorders keys, so a request holding either could be answered
 * but never recorded. JSON text escapes every control character, so any JSON value fits a text column, and it
 * reads back to the value whose hashes the node signed.
 */
export const leavesAsJsonText: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`alter table leaves
      alter column request type text using request::text,
      alter column response type text using response::text`.execute(db);
  },
};
