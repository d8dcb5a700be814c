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

  it("applies them at once when quiet", async () => {
    const flusher = await JournalFlusher.open(opened.db, { intervalMs: 20, maxDelayMs: 60_000 });
    try {
      flusher.start(() => true);
      flusher.journal.append(record);
      await expect.poll(() => flusher.journal.pendingCount, { timeout: 3_000, interval: 20 }).toBe(0);
    } finally {
      await flusher.stop();
    }
  });
});
