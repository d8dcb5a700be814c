import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

// A gateway keeps serving from its journal while it cannot write (a partition, a pause) past its slice's time.

const MAX = 12_000_000_000_000_000n;
const SERVED = 1_200_000_000_000_000n;

describe.each(testDatabases().filter((d) => !d.skip))("a swept slice's late charges ($name)", ({ make }) => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  const dirs: string[] = [];
  beforeAll(async () => {
    db = make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  // Review speed-gwfix B-2: a charge its gateway's journal applied after the slice was swept was dropped.
  it("charges a request served after the slice's last write when its journal lands after the sweep", async () => {
    const { view } = await new KeyStore(opened.db).create({ name: "u", budget: "1" });
    const dir = mkdtempSync(join(tmpdir(), "atoma-rev-"));
    dirs.push(dir);
    const journal = await JournalFlusher.open(opened.db, { dir });
    const clock = { now: Date.now() };
    const ledger = new SpendLedger(opened.db, { journal, now: () => clock.now });
    // First request grows the slice (in_flight written = MAX), is served and flushed; maintenance writes in_flight 0.
    await ledger.settle(await ledger.reserve(view.id, MAX), SERVED);
    await journal.flush();
    await ledger.maintain();
    // Second request fits the slice (no growth, nothing written): served, its charge journaled only.
    await ledger.settle(await ledger.reserve(view.id, MAX), SERVED);
    // The gateway stops writing (DB partition / paused) for > 10 min; another gateway sweeps.
    clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => clock.now }).sweep();
    // The partition heals: the journal is applied.
    await journal.flush();
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", view.id)
      .executeTakeFirstOrThrow();
    expect(row.spent_wei).toBe(2n * SERVED);
  });
  it("never charges twice a request the sweep charged as in flight, when its journal lands after the sweep", async () => {
    const { view } = await new KeyStore(opened.db).create({ name: "v", budget: "1" });
    const dir = mkdtempSync(join(tmpdir(), "atoma-swept-"));
    dirs.push(dir);
    const journal = await JournalFlusher.open(opened.db, { dir });
    const clock = { now: Date.now() };
    const ledger = new SpendLedger(opened.db, { journal, now: () => clock.now });
    // The slice grows for it (in flight written: its maximum), it is served, its charge journaled only.
    await ledger.settle(await ledger.reserve(view.id, MAX), SERVED);
    clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => clock.now }).sweep();
    await journal.flush();
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", view.id)
      .executeTakeFirstOrThrow();
    // The sweep charged its maximum, which covers its cost: nothing more.
    expect(row.spent_wei).toBe(MAX);
    expect(row.reserved_wei).toBe(0n);
  });
});
