import { costOfUnits, requestHash } from "@atoma/core";
import { sql } from "kysely";
import { parseEther } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { lockStackCharges } from "../src/refunds/stackChargesLock.js";
import { spentWeiOf } from "./helpers/sealedChargeRows.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const postgres = testDatabases().find((d) => d.name === "postgres")!;
const MAX_UNITS = 2_000n;
const PRICE = parseEther("1");
const MAX_WEI = costOfUnits(MAX_UNITS, PRICE);
const STACK = 900n;
const NONCE = 3n;

// Review 2 of h-gw, LOW: a hold that supersedes another at its nonce took the stack's lock after the charges had locked
// their keys' rows, while a held charge settled by a receipt or a settlement takes the stack's lock, then its key's row:
// two such transactions at once deadlock (PostgreSQL aborts one, and the whole journal batch with it). The journal now
// takes the held stacks' locks first, as the settle paths do: while one is held, it touches no key's row.
describe.skipIf(postgres.skip)("a superseding hold's locks, in the settle paths' order (PostgreSQL)", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;

  beforeAll(async () => {
    db = postgres.make();
    opened = await openGatewayDatabase(db.config);
  }, 60_000);
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
  });

  it("takes the stack's lock before any key's row, and gives the superseded charge back", async () => {
    const keys = new KeyStore(opened.db, Date.now);
    const ledger = new SpendLedger(opened.db, { sliceRequests: 1, sliceIdleMs: 0 });
    const { view } = await keys.create({ name: "held" });
    const hold = (reqHash: string) => ({
      stackId: STACK,
      nonce: NONCE,
      maxUnits: MAX_UNITS,
      pricePerMillion: PRICE,
      reqHash,
    });
    await ledger.settle(
      await ledger.reserve(view.id, MAX_WEI),
      MAX_WEI,
      undefined,
      hold(requestHash({ a: 1 })),
    );
    expect(await spentWeiOf(opened.db, view.id)).toBe(MAX_WEI);

    // A settle path in progress on the stack: its lock held.
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const settling = opened.db.transaction().execute(async (tx) => {
      await lockStackCharges(tx, STACK);
      locked();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await isLocked;
    const second = await ledger.reserve(view.id, MAX_WEI);
    const superseding = ledger.settle(second, MAX_WEI, undefined, hold(requestHash({ b: 2 })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Meanwhile the key's row is free: the superseding hold waits for the stack's lock before it charges the key.
    const touched = await opened.db.transaction().execute(async (tx) => {
      await sql`set local lock_timeout = '500ms'`.execute(tx);
      return tx
        .updateTable("api_keys")
        .set((eb) => ({ spent_wei: eb.ref("spent_wei") }))
        .where("key_id", "=", view.id)
        .executeTakeFirst()
        .then(
          () => "free",
          (error: { code?: string }) => error.code ?? "failed",
        );
    });
    release();
    await settling;
    await superseding;
    expect(touched).toBe("free");
    // The first hold superseded: its charge back; the second held.
    expect(await spentWeiOf(opened.db, view.id)).toBe(MAX_WEI);
  });
});
