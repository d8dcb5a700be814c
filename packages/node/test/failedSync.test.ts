import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { sqliteConnectionOf } from "../src/db/sqlite/openSqlite.js";
import { mayHaveLostCommits, RUNNING_MARKER } from "../src/db/sqlite/runningMarker.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";
import { SyncGate } from "./helpers/syncGate.js";

const root = mkdtempSync(join(tmpdir(), "atoma-failed-sync-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the embedded store after a failed sync of its log (SQLite, synchronous = normal)", () => {
  it("takes no more requests, even on a stack already live, and leaves the marker for the next start", async () => {
    const dir = join(root, "eio");
    const gate = new SyncGate();
    const state = await openStateDatabase({ kind: "embedded", dir }, { datasync: gate.datasync });
    state.markRunning();
    const connection = sqliteConnectionOf(state.db)!;
    const { stackId } = await addStack(state.db);
    const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
    try {
      await accounting.commit(await accounting.reserve({ stackId, units: 5n, nonce: 0n }), leafFor(0, 5n));
      const held = await accounting.reserve({ stackId, units: 5n, nonce: 1n }); // live, its row long synced
      gate.fail();
      await expect(connection.wal!.sync()).rejects.toMatchObject({ code: "database_unavailable" });

      await expect(accounting.commit(held, leafFor(1, 5n))).rejects.toMatchObject({
        code: "database_sync_failed",
      });
      await accounting.release(held);
      await expect(accounting.reserve({ stackId, units: 5n, nonce: 1n })).rejects.toMatchObject({
        code: "database_sync_failed",
      });
      const { rows } = await sql<{ n: bigint }>`select count(*) as n from leaves`.execute(state.db);
      expect(Number(rows[0]?.n)).toBe(1); // leaf 1 never signed
      expect(mayHaveLostCommits(dir)).toBe(true); // a kill -9 now, on this boot, still counts as a loss
    } finally {
      await state.close();
    }
    expect(JSON.parse(readFileSync(join(dir, RUNNING_MARKER), "utf8"))).toMatchObject({ bootId: null });
    const next = await openStateDatabase({ kind: "embedded", dir });
    expect(next.mayHaveLostCommits).toBe(true); // the live stacks are closed before it serves
    await next.close();
  });

  it("keeps every commit outside the hot path synced (synchronous = full), whatever the requests did", async () => {
    const state = await openStateDatabase({ kind: "embedded", dir: join(root, "baseline") });
    // Read where a settlement's freeze commits: in a transaction of its own, between requests.
    const level = () =>
      state.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ synchronous: bigint }>`pragma synchronous`.execute(trx);
        return rows[0]?.synchronous;
      });
    try {
      expect(await level()).toBe(2n);
      const { stackId } = await addStack(state.db);
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      await accounting.commit(await accounting.reserve({ stackId, units: 5n, nonce: 0n }), leafFor(0, 5n));
      expect(await level()).toBe(2n);
      await expect(accounting.reserve({ stackId, units: 5n, nonce: 5n })).rejects.toThrow(); // held nothing
      await accounting.release(await accounting.reserve({ stackId, units: 5n, nonce: 1n }));
      // A settlement's freeze commits on this level before its transaction goes on chain.
      expect(await level()).toBe(2n);
    } finally {
      await state.close();
    }
  });
});
