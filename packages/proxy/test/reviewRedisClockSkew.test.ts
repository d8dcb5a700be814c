import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { RedisRateLimiter } from "../src/limits/redisRateLimiter.js";

/** Redis for tests, when `REDIS_URL` is set. */
const redisUrl = process.env.REDIS_URL || undefined;

/**
 * Review repro (fails today): the Lua buckets take `now` from each gateway's clock. A gateway whose clock is behind
 * writes an earlier `at`, and the next take on a gateway whose clock is ahead refills the whole skew again: a key
 * alternating between two gateways is refilled on every alternation, without real time passing.
 */
describe.skipIf(!redisUrl)("review: Redis rate limits across gateways with skewed clocks", () => {
  const redis = redisUrl ? new Redis(redisUrl) : undefined;
  afterAll(() => redis?.quit());

  it("lets a key take no more tokens than its per-minute allowance (plus the skew once) within one real instant", async () => {
    const prefix = `review:${randomUUID()}:`;
    const t = Date.UTC(2030, 0, 1);
    // Two gateways of one deployment, clocks 30 s apart; real time stands still during the test.
    const ahead = new RedisRateLimiter(redis!, { prefix, now: () => t + 30_000 });
    const behind = new RedisRateLimiter(redis!, { prefix, now: () => t });
    const limits = { keyId: "key_0123456789abcdef", requestsPerMinute: null, tokensPerMinute: 1_000 };
    let tokens = 0;
    for (let i = 0; i < 20; i++) {
      // A big request on the gateway ahead, then a 1-token one on the gateway behind (which writes back its `at`).
      for (const [limiter, want] of [
        [ahead, 500],
        [behind, 1],
      ] as const) {
        try {
          await limiter.take(limits, want);
          tokens += want;
        } catch {
          // refused: the limit held for this one
        }
      }
    }
    // At most 1,000 (the allowance) plus 500 (30 s of skew refilled once). Today: 10,020.
    expect(tokens).toBeLessThanOrEqual(1_500);
  });

  it("refills a bucket as Redis's own time passes", async () => {
    const limiter = new RedisRateLimiter(redis!, { prefix: `review:${randomUUID()}:` });
    // 10 tokens a millisecond: the whole minute's allowance taken, then 1,000 tokens back after ~100 ms.
    const limits = { keyId: "key_fedcba9876543210", requestsPerMinute: null, tokensPerMinute: 600_000 };
    await limiter.take(limits, 600_000);
    await expect(limiter.take(limits, 5_000)).rejects.toMatchObject({ code: "rate_limit_exceeded" });
    await new Promise((resolve) => setTimeout(resolve, 600));
    await expect(limiter.take(limits, 5_000)).resolves.toBeDefined();
  });
});
