import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { pragmaValue, SQLITE_FILE, sqliteConnectionOf } from "../src/db/sqlite/openSqlite.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";

const root = mkdtempSync(join(tmpdir(), "atoma-relaxed-connection-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const count = async (db: Parameters<typeof sqliteConnectionOf>[0], table: "leaves" | "reservations") =>
  Number((await sql<{ n: bigint }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]?.n);

describe("the hot path's own SQLite connection (synchronous = normal)", () => {
  it("commits where the main connection reads it, and never changes the main connection's level", async () => {
    for (const synchronous of ["normal", "full"] as const) {
      const state = await openStateDatabase({ kind: "embedded", dir: join(root, synchronous), synchronous });
      const connection = sqliteConnectionOf(state.db)!;
      const levels = async () => [
        await connection.exclusive((raw) => pragmaValue(raw, "synchronous")),
        await connection.relaxedExclusive((raw) => pragmaValue(raw, "synchronous")),
      ];
      try {
        const { stackId } = await addStack(state.db); // on the main connection
        const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
        const held = await accounting.reserve({ stackId, units: 5n, nonce: 0n });
        expect(await count(state.db, "reservations")).toBe(1);
        expect(await levels()).toEqual([2n, 1n]);
        await accounting.commit(held, leafFor(0, 5n));
        expect([await count(state.db, "reservations"), await count(state.db, "leaves")]).toEqual([0, 1]);
        expect(await levels()).toEqual([2n, 1n]);
        // and the hot path reads what the main connection wrote since: a stack closed there refuses the next
        await sql`update stacks set state = 'settling' where stack_id = ${String(stackId)}`.execute(state.db);
        await expect(accounting.reserve({ stackId, units: 5n, nonce: 1n })).rejects.toMatchObject({
          code: "stack_closed",
        });
      } finally {
        await state.close();
      }
    }
  });

  it("leaves the log checkpointed: neither connection keeps a read open that would let it grow", async () => {
    const dir = join(root, "checkpoint");
    const state = await openStateDatabase({ kind: "embedded", dir });
    try {
      const { stackId } = await addStack(state.db, { unitsBought: 1_000_000n });
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      const big = "x".repeat(3_000); // each leaf's commit writes a page or more
      for (let n = 0; n < 1_500; n++) {
        const leaf = { ...leafFor(n, 1n), response: { text: big } };
        await accounting.commit(await accounting.reserve({ stackId, units: 1n, nonce: BigInt(n) }), leaf);
      }
      // 1,500 requests write well over SQLite's 1,000-page checkpoint; a log never reset would hold them all.
      expect(statSync(join(dir, `${SQLITE_FILE}-wal`)).size).toBeLessThan(8 * 1024 * 1024);
    } finally {
      await state.close();
    }
  });
});
