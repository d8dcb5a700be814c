import { costOfUnits } from "@atoma/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyJournalBatch } from "../src/db/applyJournal.js";
import type { ChargeRecord } from "../src/db/journal.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { SealedCharges } from "../src/limits/sealedCharges.js";
import { UsageBook } from "../src/usage/usageBook.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const KEY = "key-held";
const MODEL = "tiny";
const DAY = "2026-12-07";
const PRICE = 1_000_000n;
const MAX_UNITS = 1_000n;
const FULL = costOfUnits(MAX_UNITS, PRICE);
const FLOOR = 7n;

/** A stopped stream's charge: its whole bound, held at (stack 7, nonce `nonce`) for `reqHash`, shown in the usage. */
const heldCharge = (nonce: string, reqHash: string, floorWei?: bigint): ChargeRecord => ({
  kind: "charge",
  reservationId: `slice-${nonce}-${reqHash}`,
  keyId: KEY,
  costWei: FULL.toString(),
  usage: { model: MODEL, day: DAY, tokens: MAX_UNITS.toString() },
  sealedHold: {
    stackId: "7",
    nonce,
    maxUnits: MAX_UNITS.toString(),
    pricePerMillion: PRICE.toString(),
    atMs: 1,
    reqHash,
    ...(floorWei ? { floorWei: floorWei.toString() } : {}),
  },
});

// Issue 12: a held charge's give-back came off the key's spend but never off `/v1/usage`, which kept showing the
// whole bound a stopped stream was held at (and its bound as tokens) after the node's receipt said it cost less.
describe.each(testDatabases().filter((db) => !db.skip))(
  "a held charge's give-back in the usage ($name)",
  (database) => {
    let made: TestDatabaseConfig;
    let opened: OpenedDatabase;
    let usage: UsageBook;
    let charges: SealedCharges;

    beforeEach(async () => {
      made = database.make();
      opened = await openGatewayDatabase(made.config);
      usage = new UsageBook(opened.db, () => Date.parse(`${DAY}T12:00:00Z`));
      charges = new SealedCharges(opened.db);
      await opened.db
        .insertInto("api_keys")
        .values({
          key_id: KEY,
          key_prefix: "atk_",
          name: "k",
          key_hash: "h-k",
          budget_wei: (100n * FULL).toString(),
          spent_wei: "0",
          created_at_ms: "1",
          updated_at_ms: "1",
        })
        .execute();
    });
    afterEach(async () => {
      await opened?.close();
      await made?.dispose();
    });

    /** Applies the charges as the journal does, each on a live slice that reserved it (so the key's spend takes it). */
    const apply = async (...records: ChargeRecord[]) => {
      for (const record of records) {
        await opened.db
          .insertInto("spend_reservations")
          .values({ reservation_id: record.reservationId, key_id: KEY, max_wei: FULL, expires_at_ms: "0" })
          .execute();
        await opened.db
          .updateTable("api_keys")
          .set((eb) => ({ reserved_wei: eb("reserved_wei", "+", FULL) }))
          .where("key_id", "=", KEY)
          .execute();
      }
      await opened.db.transaction().execute((tx) => applyJournalBatch(tx, records));
    };
    const shown = async () => {
      const rows = await usage.query({ keyId: KEY });
      expect(rows).toHaveLength(1);
      return {
        requests: rows[0]!.requests,
        tokens: BigInt(rows[0]!.tokens),
        spend: BigInt(rows[0]!.spend_wei),
      };
    };
    const spent = async () =>
      BigInt(
        (
          await opened.db
            .selectFrom("api_keys")
            .select("spent_wei")
            .where("key_id", "=", KEY)
            .executeTakeFirstOrThrow()
        ).spent_wei,
      );

    it("shows what the leaf's receipt says once it settles the hold", async () => {
      await apply(heldCharge("3", "0xaa"));
      expect(await shown()).toEqual({ requests: 1, tokens: MAX_UNITS, spend: FULL });
      await charges.settleByReceipt(7n, 3n, 120n, true, "0xaa");
      expect(await shown()).toEqual({ requests: 1, tokens: 120n, spend: costOfUnits(120n, PRICE) });
      expect(await spent()).toBe(costOfUnits(120n, PRICE));
    });

    it("shows only the floor of a request the node committed nothing for, or whose nonce went to another", async () => {
      await apply(heldCharge("3", "0xaa", FLOOR), heldCharge("4", "0xbb", FLOOR));
      await charges.settleFreed(7n, 3n, "0xaa");
      // Nonce 4 is signed again for another request: its hold supersedes the first's, which keeps its floor.
      await apply(heldCharge("4", "0xcc"));
      const after = await shown();
      expect(after.spend).toBe(FLOOR + FLOOR + FULL);
      expect(after.tokens).toBe(MAX_UNITS);
      expect(after.spend).toBe(await spent());
    });

    it("shows the second of two holds at one nonce applied in one batch, the first given back to nothing", async () => {
      await apply(heldCharge("5", "0xaa"), heldCharge("5", "0xbb"));
      const after = await shown();
      expect(after.spend).toBe(FULL);
      expect(after.spend).toBe(await spent());
      expect(after.tokens).toBe(MAX_UNITS);
    });

    it("shows what the settlement paid for the holds it settles", async () => {
      await apply(heldCharge("3", "0xaa"), heldCharge("4", "0xbb"));
      // The node was paid 300 units past the last receipt (none): the first hold takes them all, the second nothing.
      await charges.settleBySettlement(7n, 300n, undefined);
      expect(await shown()).toEqual({ requests: 2, tokens: 300n, spend: costOfUnits(300n, PRICE) });
      expect(await spent()).toBe(costOfUnits(300n, PRICE));
    });

    it("never shows a negative spend or tokens when the usage row was already pruned or lowered", async () => {
      await apply(heldCharge("3", "0xaa"));
      await opened.db.updateTable("usage_daily").set({ spend_wei: "1", tokens: "1" }).execute();
      await charges.settleByReceipt(7n, 3n, 0n, true, "0xaa");
      expect(await shown()).toEqual({ requests: 1, tokens: 0n, spend: 0n });
    });
  },
);
