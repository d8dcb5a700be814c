import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const M = 1_000_000n;
const embedded = testDatabases()[0]!;

/**
 * A charge the database refuses for a moment at settle time (the answer already served) is neither lost nor
 * left holding the slice: the request stops counting as in flight, and the charge is applied before the slice
 * goes back, so the key pays what it spent (not nothing, and not the sweep's full slice).
 */
describe("a settle the database refuses is kept and applied later", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const dirs: string[] = [];
  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const amounts = async (keyId: string) => {
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", keyId)
      .executeTakeFirstOrThrow();
    return { spent: row.spent_wei, reserved: row.reserved_wei };
  };

  it("charges the key once the database is back, and gives the slice back", async () => {
    const { view } = await new KeyStore(opened.db).create({ name: "blip", budget: "0.001" });
    const ledger = new SpendLedger(opened.db, { sliceIdleMs: 0 });
    const reservation = await ledger.reserve(view.id, M);
    await sql`alter table usage_daily rename to usage_daily_away`.execute(opened.db);
    try {
      // The answer was served: settling must not throw, and must not keep the request in flight.
      await ledger.settle(reservation, 7n, { model: "tiny", units: 7n });
      await expect(ledger.maintain(0)).rejects.toThrow();
    } finally {
      await sql`alter table usage_daily_away rename to usage_daily`.execute(opened.db);
    }
    await ledger.maintain(0);
    await ledger.maintain(0);
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", view.id)
      .executeTakeFirstOrThrow();
    expect({ spent: row.spent_wei, reserved: row.reserved_wei }).toEqual({ spent: 7n, reserved: 0n });
    const usage = await opened.db
      .selectFrom("usage_daily")
      .selectAll()
      .where("key_id", "=", view.id)
      .execute();
    expect(usage.map((u) => String(u.tokens))).toEqual(["7"]);
  });

  it("a shutdown waits for a request still settling, and one past the journal's close is charged all the same", async () => {
    const { view } = await new KeyStore(opened.db).create({ name: "late", budget: "0.001" });
    const dir = mkdtempSync(join(tmpdir(), "atoma-journal-"));
    dirs.push(dir);
    const journal = await JournalFlusher.open(opened.db, { dir });
    journal.start();
    const ledger = new SpendLedger(opened.db, { journal });
    const reservation = await ledger.reserve(view.id, M);
    // A stream past its last chunk, still reading its receipt: the shutdown's wait is bounded...
    expect(await ledger.settledAll(50)).toBe(false);
    // ...and ends as soon as the request settles.
    const waiting = ledger.settledAll(10_000);
    await ledger.settle(reservation, 9n, { model: "tiny", units: 9n });
    expect(await waiting).toBe(true);
    // One that settles after the journal closed goes straight to the database.
    const late = await ledger.reserve(view.id, M);
    await journal.stop();
    await ledger.settle(late, 5n, { model: "tiny", units: 5n });
    expect((await amounts(view.id)).spent).toBe(14n);
  });
});
