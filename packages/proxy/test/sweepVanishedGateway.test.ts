import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

/** One request's reservation: 1200 units at the gateway's 10 TOMA per million. */
const MAX = 12_000_000_000_000_000n;
/** What the node served: 1200 units at 1 TOMA per million. */
const SERVED = 1_200_000_000_000_000n;

// Review of issue 12, MEDIUM-2: a gateway replica that dies and never comes back on its data directory left its
// slice of the key's budget (16 requests' maxima by default) to another gateway's sweep, which charged all of it:
// 160 times what was served. The sweep now charges what the slice had in flight when its gateway last wrote it down
// (each growth and every maintenance run, about a second), and gives the rest back.
describe.each(testDatabases().filter((d) => !d.skip))("a gateway that vanishes ($name)", ({ make }) => {
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

  const vanishingGateway = async (name: string) => {
    const { view } = await new KeyStore(opened.db).create({ name, budget: "1" });
    const dir = mkdtempSync(join(tmpdir(), "atoma-vanish-"));
    dirs.push(dir);
    const journal = await JournalFlusher.open(opened.db, { dir });
    const clock = { now: Date.now() };
    // Production defaults: slices of 16 maxima, given back after 2 s idle.
    const ledger = new SpendLedger(opened.db, { journal, now: () => clock.now });
    return { keyId: view.id, journal, clock, ledger };
  };
  const spending = async (keyId: string) => {
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", keyId)
      .executeTakeFirstOrThrow();
    return { spent: row.spent_wei, reserved: row.reserved_wei };
  };

  it("charges what was served, not the slice it held, when nothing was in flight", async () => {
    const gw = await vanishingGateway("served then gone");
    await gw.ledger.settle(await gw.ledger.reserve(gw.keyId, MAX), SERVED);
    await gw.journal.flush();
    await gw.ledger.maintain();
    // kill -9, its data directory gone with it (a replaced pod): another gateway sweeps eleven minutes on.
    gw.clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => gw.clock.now }).sweep();
    expect(await spending(gw.keyId)).toEqual({ spent: SERVED, reserved: 0n });
  });

  it("charges the maxima of the requests in flight when it vanished, and gives the rest back", async () => {
    const gw = await vanishingGateway("in flight then gone");
    await gw.ledger.settle(await gw.ledger.reserve(gw.keyId, MAX), SERVED);
    await gw.ledger.reserve(gw.keyId, MAX);
    await gw.ledger.reserve(gw.keyId, MAX);
    await gw.journal.flush();
    await gw.ledger.maintain();
    gw.clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => gw.clock.now }).sweep();
    expect(await spending(gw.keyId)).toEqual({ spent: SERVED + 2n * MAX, reserved: 0n });
  });

  it("charges the request that took the slice in full when the gateway vanished before any maintenance run", async () => {
    const gw = await vanishingGateway("gone at once");
    await gw.ledger.reserve(gw.keyId, MAX);
    gw.clock.now += 11 * 60_000;
    await new SpendLedger(opened.db, { now: () => gw.clock.now }).sweep();
    expect(await spending(gw.keyId)).toEqual({ spent: MAX, reserved: 0n });
  });
});
