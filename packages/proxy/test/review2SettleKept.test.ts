import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  beforeAll(async () => {
    db = embedded.make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
  });

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
});
