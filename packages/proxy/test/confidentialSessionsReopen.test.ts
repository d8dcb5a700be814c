import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfidentialSessionsExceededError } from "../src/confidentialErrors.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { ConfidentialSessions } from "../src/gateway/confidentialSessions.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { levelThreePool } from "./helpers/levelThreePool.js";

/**
 * A key squatting a model's level-3 stacks by re-opening sessions as soon as its unused ones expire: a session that
 * expired unused keeps counting against its key's share for a cool-down after it, so the squatter holds the stacks
 * at most part of the time, and another key takes them meanwhile.
 */
const dir = mkdtempSync(join(tmpdir(), "atoma-sessions-reopen-"));
let opened: OpenedDatabase;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(read: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!read()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("a key re-opening sessions as they expire unused", () => {
  it("is refused its share for a cool-down after they expire; another key is served meanwhile", async () => {
    const keys = new KeyStore(opened.db, Date.now);
    const squatter = (await keys.findByKey((await keys.create({ name: "squatter" })).key))!;
    const other = (await keys.findByKey((await keys.create({ name: "other" })).key))!;
    const upstream = levelThreePool();
    let now = 1_000_000;
    const sessions = new ConfidentialSessions(
      {
        upstream,
        ledger: new SpendLedger(opened.db, { sliceIdleMs: 0 }),
        limiter: new RateLimiter(),
        maxPricePerMillion: () => 1n,
        now: () => now,
      },
      { maxPerKey: 4, maxPerKeyPerModel: 2, ttlMs: 50 },
    );
    const request = {
      model: "m",
      endpoint: "chat" as const,
      path: "/v1/chat/completions",
      maxUnits: 100n,
      ignore: [],
    };
    await sessions.open(squatter, request);
    await sessions.open(squatter, request);
    // Both expire unused (their timers): the stacks go back.
    await until(() => sessions.countOf(squatter.keyId) === 0 && upstream.leased === 0);
    await expect(sessions.open(squatter, request)).rejects.toBeInstanceOf(ConfidentialSessionsExceededError);
    expect(upstream.leased).toBe(0);
    await sessions.open(other, request);
    // Past the cool-down (a session's time after the expiry), the key is served again.
    now += 50 + 1;
    await sessions.open(squatter, request);
    await sessions.stop();
  });
});
