import type { StateDatabase } from "../db/openStateDatabase.js";
import { sqliteConnectionOf } from "../db/sqlite/openSqlite.js";

const CLOSE_LIVE = `update stacks set state = 'settling', updated_at = current_timestamp
  where state = 'active' and stack_id in (select stack_id from live_stacks) returning stack_id`;

/**
 * Start-up on SQLite, before the API takes requests. After a stop that may have lost commits
 * (`state.mayHaveLostCommits`: a power cut under `synchronous = normal`), every stack still live (`liveStacks.ts`)
 * may have lost a leaf whose receipt its owner holds, and the node cannot tell which: each is closed to requests
 * (`settling`, so the settlement worker settles it with the leaves the node has), and no second leaf is ever
 * signed at an index it may have signed. Then the log is synced — the previous process's commits, and the closing,
 * are on disk — and the live set is emptied. Returns the stacks closed; nothing to do on PostgreSQL or PGlite.
 */
export async function recoverLiveStacks(state: StateDatabase): Promise<bigint[]> {
  const connection = sqliteConnectionOf(state.db);
  if (!connection) return [];
  const closed = state.mayHaveLostCommits
    ? await connection.exclusive((_db, prepare) =>
        (prepare(CLOSE_LIVE).all() as { stack_id: string }[]).map((row) => BigInt(row.stack_id)),
      )
    : [];
  await connection.wal?.sync();
  await connection.exclusive((_db, prepare) => prepare("delete from live_stacks").run());
  return closed;
}
