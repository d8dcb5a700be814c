import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { SpendLedger, type SpendReservation } from "../src/limits/spendLedger.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const M = 1_000_000n;

describe.each(testDatabases())("budget slices held by gateways ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig | undefined;
  let opened: OpenedDatabase;
  let keys: KeyStore;
  const dirs: string[] = [];

  beforeAll(async () => {
    if (skip) return;
    db = make();
    opened = await openGatewayDatabase(db.config);
    keys = new KeyStore(opened.db);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const keyWith = async (budgetWei: bigint) => {
    const { view } = await keys.create({ name: "sliced", budget: (Number(budgetWei) / 1e18).toFixed(18) });
    return view.id;
  };
  const amounts = async (keyId: string) => {
    const row = await opened.db
      .selectFrom("api_keys")
      .select(["spent_wei", "reserved_wei"])
      .where("key_id", "=", keyId)
      .executeTakeFirstOrThrow();
    return { spent: row.spent_wei, reserved: row.reserved_wei };
  };

  it.skipIf(skip)(
    "two gateways racing for one budget are never promised more than it, together",
    async () => {
      const keyId = await keyWith(10n * M);
      const [a, b] = [new SpendLedger(opened.db), new SpendLedger(opened.db)];
      const ledgers = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b));
      const outcomes = await Promise.allSettled(ledgers.map((ledger) => ledger.reserve(keyId, M)));
      const admitted = outcomes.flatMap((o, i) =>
        o.status === "fulfilled" ? [{ ledger: ledgers[i]!, reservation: o.value }] : [],
      );
      expect(admitted).toHaveLength(10);
      for (const o of outcomes)
        if (o.status === "rejected") expect(o.reason).toMatchObject({ code: "insufficient_quota" });
      expect(await amounts(keyId)).toEqual({ spent: 0n, reserved: 10n * M });
      for (const { ledger, reservation } of admitted) await ledger.settle(reservation, M / 4n);
      await a.maintain(0);
      await b.maintain(0);
      expect(await amounts(keyId)).toEqual({ spent: (10n * M) / 4n, reserved: 0n });
    },
  );

  it.skipIf(skip)(
    "serves requests from its slice in memory, and gives back what they did not spend",
    async () => {
      const keyId = await keyWith(1_000n * M);
      const [a, b] = [new SpendLedger(opened.db), new SpendLedger(opened.db)];
      const first = await a.reserve(keyId, M);
      // One statement took sixteen requests' maxima: fifteen more need no database.
      expect(await amounts(keyId)).toEqual({ spent: 0n, reserved: 16n * M });
      const more: SpendReservation[] = [];
      for (let i = 0; i < 15; i++) more.push(await a.reserve(keyId, M));
      expect(await amounts(keyId)).toEqual({ spent: 0n, reserved: 16n * M });
      const other = await b.reserve(keyId, M);
      expect(await amounts(keyId)).toEqual({ spent: 0n, reserved: 32n * M });
      for (const r of [first, ...more]) await a.settle(r, 3n);
      await b.settle(other, 5n);
      expect(await amounts(keyId)).toEqual({ spent: 16n * 3n + 5n, reserved: 32n * M - 16n * 3n - 5n });
      await a.maintain(0);
      await b.maintain(0);
      expect(await amounts(keyId)).toEqual({ spent: 16n * 3n + 5n, reserved: 0n });
    },
  );

  it.skipIf(skip)(
    "journals charges, replays what a killed gateway did not apply, and never applies a record twice",
    async () => {
      const keyId = await keyWith(1_000n * M);
      const dir = mkdtempSync(join(tmpdir(), "atoma-journal-"));
      dirs.push(dir);
      const journal = await JournalFlusher.open(opened.db, { dir });
      const ledger = new SpendLedger(opened.db, { journal });
      for (let i = 0; i < 5; i++) await ledger.settle(await ledger.reserve(keyId, M), 7n);
      // Journaled, not applied: the slice still holds the maxima.
      expect(await amounts(keyId)).toEqual({ spent: 0n, reserved: 16n * M });
      // Killed: nothing flushed, its lock left behind with a pid that is not running.
      journal.journal.close();
      const file = join(dir, "journal.jsonl");
      copyFileSync(file, `${file}.copy`);
      rmSync(join(dir, "journal.lock"));
      const restarted = await JournalFlusher.open(opened.db, { dir });
      expect(await amounts(keyId)).toEqual({ spent: 35n, reserved: 16n * M - 35n });
      const ledgerAgain = new SpendLedger(opened.db, { journal: restarted });
      await ledgerAgain.recover();
      expect(await amounts(keyId)).toEqual({ spent: 35n, reserved: 0n });
      // Killed after the batch committed and before the file was emptied: the position says it is applied.
      await restarted.stop();
      copyFileSync(`${file}.copy`, file);
      const again = await JournalFlusher.open(opened.db, { dir });
      await again.stop();
      expect(await amounts(keyId)).toEqual({ spent: 35n, reserved: 0n });
      const usage = await opened.db
        .selectFrom("usage_daily")
        .selectAll()
        .where("key_id", "=", keyId)
        .execute();
      expect(usage).toEqual([]);
    },
  );

  it.skipIf(skip)(
    "sees another gateway's revocation within the key cache's time, its own at once",
    async () => {
      const { key, view } = await keys.create({ name: "revoked elsewhere" });
      const here = new KeyStore(opened.db, Date.now, 300);
      const elsewhere = new KeyStore(opened.db);
      expect((await here.findByKey(key))?.revokedAtMs).toBeNull();
      await elsewhere.revoke(view.id);
      expect((await here.findByKey(key))?.revokedAtMs).toBeNull();
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect((await here.findByKey(key))?.revokedAtMs).not.toBeNull();
      const { key: second, view: secondView } = await keys.create({ name: "revoked here" });
      expect((await here.findByKey(second))?.revokedAtMs).toBeNull();
      await here.revoke(secondView.id);
      expect((await here.findByKey(second))?.revokedAtMs).not.toBeNull();
    },
  );
});
