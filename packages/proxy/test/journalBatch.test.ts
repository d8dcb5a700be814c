import { afterAll, describe, expect, it } from "vitest";
import { applyJournalBatch, applyJournalRecord } from "../src/db/applyJournal.js";
import type { JournalRecord } from "../src/db/journal.js";
import { type GatewayDb, type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const KEY = "key-a";
const SLICE = "slice-a";
const SWEPT = "slice-gone";

async function seed(db: GatewayDb): Promise<void> {
  const base = { key_prefix: "atk_", created_at_ms: "1", updated_at_ms: "1" };
  await db
    .insertInto("api_keys")
    .values({ ...base, key_id: KEY, name: "a", key_hash: "h-a", budget_wei: "1000", reserved_wei: "100" })
    .execute();
  await db
    .insertInto("spend_reservations")
    .values({ reservation_id: SLICE, key_id: KEY, max_wei: "100", expires_at_ms: "9999999999999" })
    .execute();
  await db
    .insertInto("stacks")
    .values({
      stack_id: "7",
      model: "m",
      task_id: "1",
      node_id: "1",
      node_url: "http://n",
      node_signer: "0x00",
      units: "1000",
      price_per_million: "1",
      expires_at: "9999999999",
      state: "leased",
      created_at_ms: "1",
    })
    .execute();
}

const receipt = (leafIndex: number, signature: string): JournalRecord => ({
  kind: "receipt",
  receipt: { stackId: "7", leafIndex: String(leafIndex), signature },
  atMs: 10 + leafIndex,
});
const charge = (reservationId: string, costWei: number, tokens?: number): JournalRecord => ({
  kind: "charge",
  reservationId,
  keyId: KEY,
  costWei: String(costWei),
  usage: tokens === undefined ? undefined : { model: "m", day: "2026-12-05", tokens: String(tokens) },
});

/**
 * A batch of a flush: progress that goes back (a late record of an earlier request), a receipt journaled twice,
 * answers that together cost more than the slice held (a node billing past the maxima), and a charge whose slice
 * was swept meanwhile.
 */
const RECORDS: JournalRecord[] = [
  { kind: "signed", stackId: "7", nonce: "4", atMs: 1 },
  receipt(4, "0xaa"),
  { kind: "stack", stackId: "7", unitsUsed: "40", nextNonce: "5", atMs: 20 },
  charge(SLICE, 30, 3),
  { kind: "signed", stackId: "7", nonce: "6", atMs: 2 },
  { kind: "signed", stackId: "7", nonce: "5", atMs: 3 },
  receipt(6, "0xbb"),
  receipt(4, "0xaa"),
  receipt(4, "0xother"),
  { kind: "stack", stackId: "7", unitsUsed: "60", nextNonce: "7", atMs: 30 },
  { kind: "stack", stackId: "7", unitsUsed: "50", nextNonce: "6", atMs: 25 },
  charge(SLICE, 50, 5),
  charge(SLICE, 45, 4),
  charge(SWEPT, 9, 1),
  charge(SLICE, 0),
];

async function contents(db: GatewayDb) {
  return {
    keys: await db.selectFrom("api_keys").select(["key_id", "spent_wei", "reserved_wei"]).execute(),
    slices: await db.selectFrom("spend_reservations").select(["reservation_id", "max_wei"]).execute(),
    stacks: await db
      .selectFrom("stacks")
      .select(["stack_id", "units_used", "next_nonce", "last_used_ms", "signed_below_nonce"])
      .execute(),
    receipts: await db
      .selectFrom("receipts")
      .select(["stack_id", "leaf_index", "signature", "created_at_ms"])
      .orderBy("leaf_index")
      .orderBy("signature")
      .execute(),
    usage: await db.selectFrom("usage_daily").selectAll().execute(),
  };
}

describe.each(testDatabases().filter((db) => !db.skip))(
  "a flush's records applied together ($name)",
  (database) => {
    const made: TestDatabaseConfig[] = [];
    const opened: OpenedDatabase[] = [];
    afterAll(async () => {
      for (const db of opened) await db.close();
      for (const db of made) await db.dispose();
    });
    const fresh = async () => {
      const config = database.make();
      made.push(config);
      const db = await openGatewayDatabase(config.config);
      opened.push(db);
      await seed(db.db);
      return db.db;
    };

    it("leave the database as applying them one by one does, overbilling and swept slices included", async () => {
      const oneByOne = await fresh();
      let sweptOneByOne = 0;
      for (const record of RECORDS)
        if (!(await oneByOne.transaction().execute((tx) => applyJournalRecord(tx, record)))) sweptOneByOne++;
      const together = await fresh();
      const swept = await together.transaction().execute((tx) => applyJournalBatch(tx, RECORDS));

      expect(swept).toBe(1);
      expect(sweptOneByOne).toBe(1);
      const expected = await contents(oneByOne);
      expect(await contents(together)).toEqual(expected);
      // The slice released no more than it held; the key pays every wei the receipts said (the swept one was charged in full by the sweep).
      expect(expected.keys).toEqual([{ key_id: KEY, spent_wei: 125n, reserved_wei: 0n }]);
      expect(expected.slices).toEqual([{ reservation_id: SLICE, max_wei: 0n }]);
      expect(expected.stacks[0]).toMatchObject({ units_used: 60n, next_nonce: 7n, signed_below_nonce: 7n });
      expect(expected.receipts).toHaveLength(3);
      expect(expected.usage).toEqual([
        expect.objectContaining({ requests: 4n, tokens: 13n, spend_wei: 134n }),
      ]);
    });
  },
);
