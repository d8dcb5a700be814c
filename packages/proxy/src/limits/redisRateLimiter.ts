import type { Redis } from "ioredis";
import { RateLimitExceededError } from "../errors.js";
import type { KeyRateLimiter } from "./keyRateLimiter.js";
import type { KeyLimits, RateTicket } from "./rateLimiter.js";

/**
 * One token bucket refilled to `now`: `level` and `at` in a hash; returns the level. Buckets holding at most a
 * minute's worth expire after two idle minutes. `now` is Redis's own clock (`TIME`), the one clock every gateway
 * sharing the Redis reads: a gateway whose clock runs behind or ahead cannot move a bucket's time (a take on a
 * gateway ahead after one on a gateway behind would refill the skew each time). Redis 5+ replicates a script's
 * effects, so a script may read TIME before it writes.
 */
const REFILL = `
local function redisNowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function refill(key, perMinute, now)
  local saved = redis.call('HMGET', key, 'level', 'at')
  local level = tonumber(saved[1])
  local at = tonumber(saved[2])
  if level == nil or at == nil then return perMinute end
  if now > at then level = level + (now - at) * perMinute / 60000 end
  if level > perMinute then level = perMinute end
  return level
end
local function store(key, level, now)
  redis.call('HSET', key, 'level', tostring(level), 'at', tostring(now))
  redis.call('PEXPIRE', key, 120000)
end
`;

/**
 * KEYS: requests bucket, tokens bucket. ARGV: requests/min (-1: none), tokens/min (-1: none), max tokens.
 * Returns {0} taken, {1, waitMs} requests short, {2, waitMs} tokens short, {3} never fits.
 */
const TAKE = `${REFILL}
local now = redisNowMs()
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
if tpm >= 0 and want > tpm then return {3, 0} end
local requests = 0
local tokens = 0
if rpm >= 0 then
  requests = refill(KEYS[1], rpm, now)
  if requests < 1 then return {1, math.ceil((1 - requests) * 60000 / rpm)} end
end
if tpm >= 0 then
  tokens = refill(KEYS[2], tpm, now)
  if tokens < want then return {2, math.ceil((want - tokens) * 60000 / tpm)} end
end
if rpm >= 0 then store(KEYS[1], requests - 1, now) end
if tpm >= 0 then store(KEYS[2], tokens - want, now) end
return {0, 0}
`;

/** KEYS: tokens bucket. ARGV: tokens/min, tokens given back. */
const REFUND = `${REFILL}
local now = redisNowMs()
local tpm = tonumber(ARGV[1])
local level = refill(KEYS[1], tpm, now) + tonumber(ARGV[2])
if level > tpm then level = tpm end
store(KEYS[1], level, now)
return 0
`;

export interface RedisRateLimiterOptions {
  /** Prefix of the gateway's keys in Redis (gateways sharing limits share it). @default "atoma:proxy:" */
  prefix?: string | undefined;
  /**
   * @deprecated Ignored: buckets run on Redis's own clock (`TIME` in the scripts), so gateways with skewed clocks
   * share one time. Kept so that existing callers still compile.
   */
  now?: (() => number) | undefined;
}

/**
 * `RateLimiter`'s buckets in Redis, so that every gateway sharing the Redis enforces one allowance per key: each
 * take is one Lua script (atomic on the server), and concurrent requests on several gateways cannot pass on
 * the same allowance.
 */
export class RedisRateLimiter implements KeyRateLimiter {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: RedisRateLimiterOptions = {}) {
    this.#redis = redis;
    this.#prefix = options.prefix ?? "atoma:proxy:";
  }

  async take(limits: KeyLimits, maxTokens: number): Promise<RateTicket> {
    const requestsKey = `${this.#prefix}rpm:${limits.keyId}`;
    const tokensKey = `${this.#prefix}tpm:${limits.keyId}`;
    const [outcome, waitMs] = (await this.#redis.eval(
      TAKE,
      2,
      requestsKey,
      tokensKey,
      limits.requestsPerMinute ?? -1,
      limits.tokensPerMinute ?? -1,
      maxTokens,
    )) as [number, number];
    if (outcome === 3) throw new RateLimitExceededError("tokens", 60, true);
    if (outcome === 1) throw new RateLimitExceededError("requests", seconds(waitMs));
    if (outcome === 2) throw new RateLimitExceededError("tokens", seconds(waitMs));
    const perMinute = limits.tokensPerMinute;
    let refunded = false;
    return {
      refund: (unused) => {
        if (refunded || unused <= 0 || perMinute === null) return;
        refunded = true;
        // Given back in the background: a refund lost to a Redis hiccup only errs on the strict side.
        this.#redis.eval(REFUND, 1, tokensKey, perMinute, Math.min(unused, maxTokens)).catch(() => undefined);
      },
    };
  }
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
