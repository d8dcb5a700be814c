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
 * Review-conf2 M4: one key opening many sessions at once for one model. Each open awaits its allowance, budget and
 * stack; were the limits counted only against sessions already open, all of them would pass and the key would hold
 * every level-3 stack of the model.
 */
const dir = mkdtempSync(join(tmpdir(), "atoma-sessions-parallel-"));
let opened: OpenedDatabase;

beforeAll(async () => {
  opened = await openGatewayDatabase({ kind: "embedded", dir });
}, 60_000);

afterAll(async () => {
  await opened?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("parallel session opens from one key (review-conf2 M4)", () => {
  it("exactly maxPerKeyPerModel succeed; the rest are refused before they take a stack", async () => {
    const keys = new KeyStore(opened.db, Date.now);
    const created = await keys.create({ name: "parallel" });
    const key = (await keys.findByKey(created.key))!;
    const pool = levelThreePool({ delayMs: 20 });
    const sessions = new ConfidentialSessions(
      {
        upstream: pool,
        ledger: new SpendLedger(opened.db, { sliceIdleMs: 0 }),
        limiter: new RateLimiter(),
        maxPricePerMillion: () => 1n,
      },
      { maxPerKey: 4, maxPerKeyPerModel: 2 },
    );
    const request = {
      model: "m",
      endpoint: "chat" as const,
      path: "/v1/chat/completions",
      maxUnits: 100n,
      ignore: [],
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => sessions.open(key, request)));
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(3);
    for (const r of refused)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConfidentialSessionsExceededError);
    expect(pool.leased).toBe(2);
    expect(sessions.countOf(key.keyId)).toBe(2);
    // Across models, the per-key bound holds the same way.
    const more = await Promise.allSettled(
      ["a", "b", "c", "d"].map((model) => sessions.open(key, { ...request, model })),
    );
    expect(more.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    expect(sessions.countOf(key.keyId)).toBe(4);
    await sessions.stop();
  });
});
