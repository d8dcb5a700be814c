import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;

/**
 * The journal's records go to the database in a moment without requests in flight, off their path; a gateway that
 * is never quiet (a flood of requests) still applies them within `maxDelayMs`, so nothing piles up unapplied.
 */
describe("the journal waits for a quiet moment, never longer than its bound", () => {
  let config: TestDatabaseConfig;
  let opened: OpenedDatabase;
  beforeAll(async () => {
    config = embedded.make();
    opened = await openGatewayDatabase(config.config);
  });
  afterAll(async () => {
    await opened?.close();
    await config?.dispose();
  });
  const record = { kind: "signed", stackId: "1", nonce: "0", atMs: 0 } as const;

  it("holds records while requests are in flight, then applies them by the bound", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 20, maxDelayMs: 600 });
    try {
      flusher.start(() => false);
      flusher.journal.append(record);
      await sleep(200);
      expect(flusher.journal.pendingCount).toBe(1);
      await expect.poll(() => flusher.journal.pendingCount, { timeout: 3_000, interval: 20 }).toBe(0);
    } finally {
      await flusher.stop();
    }
  });

  it("applies them at once when quiet and no wait is asked", async () => {
    const flusher = await JournalFlusher.open(opened.db, {
      intervalMs: 20,
      minDelayMs: 0,
      maxDelayMs: 60_000,
    });
    try {
      flusher.start(() => true);
      flusher.journal.append(record);
      await expect.poll(() => flusher.journal.pendingCount, { timeout: 3_000, interval: 20 }).toBe(0);
    } finally {
      await flusher.stop();
    }
  });

  it("holds a quiet gateway's records `minDelayMs`, so they go in one batch, never past `maxDelayMs`", async () => {
    const flusher = await JournalFlusher.open(opened.db, {
      intervalMs: 20,
      minDelayMs: 400,
      maxDelayMs: 800,
    });
    try {
      flusher.start(() => true);
      const appended = performance.now();
      flusher.journal.append(record);
      await sleep(150);
      flusher.journal.append({ ...record, nonce: "1" });
      await sleep(100);
      // Quiet all along, yet both wait: a transaction per request would cost a dozen statements each.
      expect(flusher.journal.pendingCount).toBe(2);
      await expect.poll(() => flusher.journal.pendingCount, { timeout: 3_000, interval: 10 }).toBe(0);
      expect(performance.now() - appended).toBeLessThan(800 + 500);
      const row = await opened.db
        .selectFrom("journal_positions")
        .select("applied_seq")
        .where("gateway_id", "=", flusher.gatewayId)
        .executeTakeFirstOrThrow();
      expect(Number(row.applied_seq)).toBeGreaterThanOrEqual(2);
    } finally {
      await flusher.stop();
    }
  });
});
