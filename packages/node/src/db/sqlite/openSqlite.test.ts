import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "libsql";
import { afterAll, describe, expect, it } from "vitest";
import { commitOnSqlite, holdOnSqlite } from "../../accounting/sqliteHotPath.js";
import { DatabaseModeError } from "../../errors.js";
import { openStateDatabase } from "../openStateDatabase.js";
import { configureSqlite, pragmaValue, sqliteConnectionOf } from "./openSqlite.js";

const root = mkdtempSync(join(tmpdir(), "atoma-open-sqlite-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The raw connection's pragma, read while no one else holds it. */
async function pragmaOf(db: Parameters<typeof sqliteConnectionOf>[0], pragma: string) {
  return sqliteConnectionOf(db)!.exclusive((raw) => pragmaValue(raw, pragma));
}

describe("openSqlite's journal and sync modes (review L2)", () => {
  it("opens in WAL mode and reads back the synchronous level it set", async () => {
    for (const synchronous of ["full", "normal"] as const) {
      const state = await openStateDatabase({ kind: "embedded", dir: join(root, synchronous), synchronous });
      try {
        expect(await pragmaOf(state.db, "journal_mode")).toBe("wal");
        // Both: `full` outside the hot path's own transactions, which `normal` relaxes one by one.
        expect(await pragmaOf(state.db, "synchronous")).toBe(2n);
      } finally {
        await state.close();
      }
    }
  });

  it("refuses a file SQLite cannot put in WAL mode (a VFS without shared memory) with a named error", () => {
    // SQLite's `unix-none` VFS has no shared memory, like a filesystem without it: `journal_mode = wal` answers the
    // previous mode, `delete`, where the hot path's relaxed reservation commit could corrupt the file.
    const raw = new Database(`file:${join(root, "nowal.db")}?vfs=unix-none`);
    try {
      let error: unknown;
      try {
        configureSqlite(raw);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(DatabaseModeError);
      expect((error as DatabaseModeError).code).toBe("database_mode_unsupported");
      expect((error as DatabaseModeError).shortMessage).toMatch(/journal_mode = delete/);
      expect(pragmaValue(raw, "journal_mode")).toBe("delete");
    } finally {
      raw.close();
    }
  });

  it("a leaf's commit finds synchronous relaxed (a reservation's failed restore) and restores it to full first", async () => {
    const state = await openStateDatabase({
      kind: "embedded",
      dir: join(root, "restore"),
      synchronous: "full",
    });
    try {
      const connection = sqliteConnectionOf(state.db)!;
      // a reservation that finds no stack still relaxes and restores the level
      expect(
        await holdOnSqlite(connection, {
          id: "r0",
          stackId: 1n,
          nodeId: 1n,
          units: 1n,
          nonce: 0n,
          nowSeconds: 0n,
        }),
      ).toBeUndefined();
      expect(await pragmaOf(state.db, "synchronous")).toBe(2n);
      // as if the restore had failed: the level is left at normal
      await connection.exclusive((raw) => raw.exec("pragma synchronous = normal"));
      expect(await pragmaOf(state.db, "synchronous")).toBe(1n);
      const outcome = await commitOnSqlite(connection, {
        reservationId: "missing",
        usedBefore: 0n,
        units: 1n,
        nonce: 0n,
        reqHash: "0x",
        respHash: "0x",
        leafHash: "0x",
        seed: 0n,
        request: "{}",
        response: null,
      });
      expect(outcome).toEqual({ outcome: "no_reservation" });
      expect(await pragmaOf(state.db, "synchronous")).toBe(2n);
    } finally {
      await state.close();
    }
  });
});
