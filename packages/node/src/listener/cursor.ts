import { sql } from "kysely";
import type { NodeDb } from "../db/openStateDatabase.js";

export interface Cursor {
  /** First block not yet handled. */
  nextBlock: bigint;
  /** Hash of block `nextBlock - 1` as it was handled. */
  lastBlockHash: string | null;
}

export async function readCursor(db: NodeDb, name: string, lock = false): Promise<Cursor | undefined> {
  let query = db
    .selectFrom("chain_cursors")
    .select(["next_block", "last_block_hash"])
    .where("name", "=", name);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && { nextBlock: row.next_block, lastBlockHash: row.last_block_hash };
}

export async function writeCursor(db: NodeDb, name: string, cursor: Cursor): Promise<void> {
  await db
    .insertInto("chain_cursors")
    .values({ name, next_block: cursor.nextBlock, last_block_hash: cursor.lastBlockHash })
    .onConflict((oc) =>
      oc.column("name").doUpdateSet({
        next_block: cursor.nextBlock,
        last_block_hash: cursor.lastBlockHash,
        updated_at: sql`current_timestamp`,
      }),
    )
    .execute();
}
