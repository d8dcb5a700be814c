import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfidentialSessionsExceededError } from "../src/confidentialErrors.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { ConfidentialSessions } from "../src/gateway/confidentialSessions.js";
import { RedisSessionSlots } from "../src/gateway/redisSessionSlots.js";
import type { KeyRecord } from "../src/keys/keyRecord.js";
import { KeyStore } from "../src/keys/keyStore.js";
import { RateLimiter } from "../src/limits/rateLimiter.js";
import { SpendLedger } from "../src/limits/spendLedger.js";
import { levelThreePool } from "./helpers/levelThreePool.js";
import { databaseUrl, testDatabases } from "./helpers/testDatabases.js";

/**
 * Session bounds and cool-downs across gateways: two gateways behind one load balancer, on one Redis and one
 * PostgreSQL, give a key its bound once (not once each), a restarted gateway still sees the cool-downs, and a crashed
 * gateway's slots free themselves at their end.
 */
const redisUrl = process.env.REDIS_URL || undefined;
const postgres = testDatabases().find((db) => db.name === "postgres");

describe.skipIf(!redisUrl || !databaseUrl || !postgres || postgres.skip)(
  "confidential sessions over Redis",
  () => {
    const config = postgres!.make();
    let opened: OpenedDatabase;
    const clients: Redis[] = [];
    const prefix = `test:${randomUUID()}:`;

    beforeAll(async () => {
      opened = await openGatewayDatabase(config.config);
    }, 60_000);

    afterAll(async () => {
      await Promise.allSettled(clients.map((client) => client.quit()));
      await opened?.close();
      await config.dispose();
    });

    /** One gateway: its own Redis connection, ledger and stack pool; the database and Redis are shared. */
    function gateway(options: { ttlMs: number; unusedCooldownMs?: number }) {
      const redis = new Redis(redisUrl!);
      clients.push(redis);
      const upstream = levelThreePool({ delayMs: 20 });
      const sessions = new ConfidentialSessions(
        {
          upstream,
          ledger: new SpendLedger(opened.db, { sliceIdleMs: 0 }),
          limiter: new RateLimiter(),
          maxPricePerMillion: () => 1n,
          slots: new RedisSessionSlots(redis, { prefix }),
        },
        { maxPerKey: 4, maxPerKeyPerModel: 2, ...options },
      );
      return { sessions, upstream };
    }

    async function key(name: string): Promise<KeyRecord> {
      const keys = new KeyStore(opened.db, Date.now);
      return (await keys.findByKey((await keys.create({ name })).key))!;
    }

    const request = (model = "m") => ({
      model,
      endpoint: "chat" as const,
      path: "/v1/chat/completions",
      maxUnits: 100n,
      ignore: [],
    });

    it("two gateways opening in parallel for one key: together at most its bound per model, and per key", async () => {
      const squatter = await key("squatter");
      const a = gateway({ ttlMs: 60_000 });
      const b = gateway({ ttlMs: 60_000 });
      const tries = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).sessions.open(squatter, request())),
      );
      const won = tries.filter((t) => t.status === "fulfilled").length;
      expect(won).toBe(2);
      for (const t of tries)
        if (t.status === "rejected") expect(t.reason).toBeInstanceOf(ConfidentialSessionsExceededError);
      // Stacks leased: exactly the sessions open (refused opens never took one).
      expect(a.upstream.leased + b.upstream.leased).toBe(2);
      // On other models, the key's bound over all of them (4) holds across both gateways too.
      const more = await Promise.allSettled(
        ["x", "y", "z"].flatMap((model) => [a, b].map((g) => g.sessions.open(squatter, request(model)))),
      );
      expect(more.filter((t) => t.status === "fulfilled").length).toBe(2);
      // Another key is not affected.
      await b.sessions.open(await key("other"), request());
      await Promise.all([a.sessions.stop(), b.sessions.stop()]);
    });

    it("a gateway restarted after its key's sessions expired unused still refuses it for the cool-down", async () => {
      const squatter = await key("restart-squatter");
      const before = gateway({ ttlMs: 200, unusedCooldownMs: 3_000 });
      await before.sessions.open(squatter, request());
      await before.sessions.open(squatter, request());
      // Both expire unused (their timers): the stacks go back, the cool-downs start.
      const deadline = Date.now() + 5_000;
      while (before.upstream.leased > 0 && Date.now() < deadline) await sleep(20);
      expect(before.upstream.leased).toBe(0);
      await before.sessions.stop();
      // A fresh process (nothing in memory), on the same Redis.
      const after = gateway({ ttlMs: 200, unusedCooldownMs: 3_000 });
      const refused = await after.sessions.open(squatter, request()).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConfidentialSessionsExceededError);
      expect((refused as ConfidentialSessionsExceededError).retryAfterSeconds).toBeGreaterThan(1);
      expect(after.upstream.leased).toBe(0);
      // Past the cool-down, the key is served again.
      await sleep(3_100);
      await after.sessions.open(squatter, request());
      await after.sessions.stop();
    }, 20_000);

    it("a gateway that crashed with slots taken: they free themselves at their end, not before", async () => {
      const redis = new Redis(redisUrl!);
      clients.push(redis);
      const slots = new RedisSessionSlots(redis, { prefix });
      const limits = { perKey: 4, perKeyPerModel: 1 };
      // The crashed gateway took a slot and never released it.
      expect(await slots.take("crashed", "m", "sl_1", 500, limits)).toEqual({ taken: true });
      const held = await slots.take("crashed", "m", "sl_2", 500, limits);
      expect(held.taken).toBe(false);
      await sleep(600);
      expect(await slots.take("crashed", "m", "sl_3", 500, limits)).toEqual({ taken: true });
      // Released twice (a retry after a lost reply): the cool-down is set once, and a later slot is not released.
      await slots.release("crashed", "m", "sl_3", 400);
      await slots.release("crashed", "m", "sl_3", 10_000);
      expect((await slots.take("crashed", "m", "sl_4", 500, limits)).taken).toBe(false);
      await sleep(500);
      expect(await slots.take("crashed", "m", "sl_4", 500, limits)).toEqual({ taken: true });
    });
  },
);
