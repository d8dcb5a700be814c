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
 * Review repro (fails today): `SpendLedger.#maintain` takes the idle slices out of its map, then flushes the
 * journal outside its try: when that flush fails (the database away for a moment), the slices are neither given
 * back nor put back in the map, so nothing renews their rows; the sweep then charges the key the whole unspent
 * slice (sixteen requests' maxima) once the rows expire.
 */
describe("review: a failed journal flush while giving back a slice never charges the key what it did not spend", () => {
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

  it("gives the slice back once the database is back", async () => {
    const { view } = await new KeyStore(opened.db).create({ name: "blip", budget: "0.001" });
    const dir = mkdtempSync(join(tmpdir(), "atoma-journal-"));
    dirs.push(dir);
    const journal = await JournalFlusher.open(opened.db, { dir });
    const clock = { now: Date.now() };
    const ledger = new SpendLedger(opened.db, { journal, now: () => clock.now, sliceIdleMs: 0 });
    await ledger.settle(await ledger.reserve(view.id, M), 7n);
    // The database refuses the journal's position for a moment.
    await sql`alter table journal_positions rename to journal_positions_away`.execute(opened.db);
    await expect(ledger.maintain(0)).rejects.toThrow();
    await sql`alter table journal_positions_away rename to journal_positions`.execute(opened.db);
    await ledger.maintain(0);
    await journal.stop();
    // Eleven minutes on, another gateway's sweep runs.
    clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => clock.now }).sweep();
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", view.id)
      .executeTakeFirstOrThrow();
    expect({ spent: row.spent_wei, reserved: row.reserved_wei }).toEqual({ spent: 7n, reserved: 0n });
  });
});
