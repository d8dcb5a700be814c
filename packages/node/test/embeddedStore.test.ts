import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { getStack, listLeaves, listStacks } from "../src/accounting/stacks.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { sqliteConnectionOf } from "../src/db/sqlite/openSqlite.js";
import { LegacyDatabaseError } from "../src/errors.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";
import { testDatabaseFactories } from "./helpers/stateDatabases.js";

const root = mkdtempSync(join(tmpdir(), "atoma-embedded-store-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the embedded store's engine", () => {
  it("refuses a PGlite directory from an older node by name, and serves it again when told it is PGlite", async () => {
    const dir = join(root, "old");
    const old = await openStateDatabase({ kind: "embedded", engine: "pglite", dir });
    const stack = await addStack(old.db, { stackId: 4_242n });
    await old.close();

    // Opened as SQLite, an empty database would start beside the stacks and leaves the node still owes settlements for.
    const error = await openStateDatabase({ kind: "embedded", dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LegacyDatabaseError);
    expect((error as LegacyDatabaseError).code).toBe("database_engine_mismatch");
    expect((error as Error).message).toMatch(
      /PGlite database written by an older node; set database.engine = "pglite"/,
    );

    // The refusal left the directory as it was, and unlocked.
    const again = await openStateDatabase({ kind: "embedded", engine: "pglite", dir });
    expect((await getStack(again.db, stack.stackId))?.unitsBought).toBe(stack.unitsBought);
    await again.close();
  });

  it("refuses to open a SQLite directory as PGlite", async () => {
    const dir = join(root, "new");
    await (await openStateDatabase({ kind: "embedded", dir })).close();
    await expect(openStateDatabase({ kind: "embedded", engine: "pglite", dir })).rejects.toThrow(
      LegacyDatabaseError,
    );
  });

  it("leaves the log's syncs to the hot path by default, and syncs it on every commit when told to", async () => {
    const pragmas = async (synchronous?: "full" | "normal") => {
      const dir = join(root, `sync-${synchronous ?? "default"}`);
      const state = await openStateDatabase({ kind: "embedded", dir, synchronous });
      const connection = sqliteConnectionOf(state.db);
      expect(state.dialect).toBe("sqlite");
      // A reservation commits without its own sync; the connection is back to the configured level after it.
      const stack = await addStack(state.db);
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      const reservation = await accounting.reserve({ stackId: stack.stackId, units: 5n, nonce: 0n });
      await accounting.commit(reservation, leafFor(0, 5n));
      const read = await connection!.exclusive((db) => {
        const pragma = (name: string) =>
          (db.prepare(`pragma ${name}`).all()[0] as Record<string, unknown>)[name];
        return {
          journal: pragma("journal_mode"),
          synchronous: pragma("synchronous"),
          foreignKeys: pragma("foreign_keys"),
        };
      });
      await state.close();
      return read;
    };
    // synchronous: 2 is FULL; `normal` relaxes only the hot path's own transactions (`sqliteHotPath.ts`)
    expect(await pragmas()).toEqual({ journal: "wal", synchronous: 2n, foreignKeys: 1n });
    expect(await pragmas("full")).toEqual({ journal: "wal", synchronous: 2n, foreignKeys: 1n });
    expect(await pragmas("normal")).toEqual({ journal: "wal", synchronous: 2n, foreignKeys: 1n });
  });
});

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(`uint256 values on ${factory.name}`, () => {
    it("keeps ids past int64 exact, orders them as numbers, and bills them", async () => {
      const testDb = factory.make();
      const state = await testDb.open();
      try {
        const ids = [10n, 9n, (1n << 255n) + 1n, 1n << 64n, (1n << 63n) - 1n];
        for (const stackId of ids)
          await addStack(state.db, { stackId, pricePerMillion: (1n << 256n) - 1n, unitsBought: 50n });
        const listed = await listStacks(state.db, { servingNodeId: NODE_ID, state: "active" });
        const mine = listed.filter((stack) => ids.includes(stack.stackId)).map((stack) => stack.stackId);
        expect(mine).toEqual([...ids].sort((a, b) => (a < b ? -1 : 1)));
        expect((await getStack(state.db, (1n << 255n) + 1n))?.pricePerMillion).toBe((1n << 256n) - 1n);
        // "10" and 10 name one stack; 1 << 64 (past int64, bound as text) is not 0 or a wrapped value
        expect(await getStack(state.db, 1n << 65n)).toBeUndefined();

        const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
        const big = (1n << 255n) + 1n;
        const reservation = await accounting.reserve({ stackId: big, units: 7n, nonce: 0n });
        const committed = await accounting.commit(reservation, leafFor(0, 5n));
        expect(committed.stackId).toBe(big);
        const [leaf] = await listLeaves(state.db, big);
        expect(leaf).toMatchObject({ stackId: big, leafIndex: 0n, units: 5n, cumulativeUnits: 5n });
        expect(await getStack(state.db, big)).toMatchObject({
          unitsUsed: 5n,
          unitsReserved: 0n,
          leafCount: 1n,
        });
      } finally {
        await state.close();
        await testDb.dispose();
      }
    });
  });
}
