import { setTimeout as sleep } from "node:timers/promises";
import type { KyselyPlugin } from "kysely";
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

  // A flush went on applying the records that came while it ran, one small transaction after another: on a busy,
  // loaded gateway (a transaction of 100 ms or more) that was several a second, all on the requests' thread.
  it("applies what was pending when a flush began; what comes meanwhile waits for the next", async () => {
    let flusher: JournalFlusher | undefined;
    let transactions = 0;
    const arriving: KyselyPlugin = {
      transformQuery: (args) => {
        if (
          args.node.kind === "InsertQueryNode" &&
          args.node.into?.table.identifier.name === "journal_positions"
        ) {
          transactions++;
          // A request settles while the first batch is being applied.
          if (transactions === 1) flusher?.journal.append({ ...record, nonce: "9" });
        }
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    flusher = await JournalFlusher.open(opened.db.withPlugin(arriving));
    try {
      flusher.journal.append(record);
      flusher.journal.append({ ...record, nonce: "1" });
      await flusher.flush();
      expect(transactions).toBe(1);
      expect(flusher.journal.pendingCount).toBe(1);
      // Nothing lost: the next flush applies it, once.
      await flusher.flush();
      expect(transactions).toBe(2);
      expect(flusher.journal.pendingCount).toBe(0);
      const row = await opened.db
        .selectFrom("journal_positions")
        .select("applied_seq")
        .where("gateway_id", "=", flusher.gatewayId)
        .executeTakeFirstOrThrow();
      expect(Number(row.applied_seq)).toBe(3);
    } finally {
      await flusher.stop();
    }
  });
});
