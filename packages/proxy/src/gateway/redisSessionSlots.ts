import type { Redis } from "ioredis";
import { type SessionSlotLimits, type SessionSlots, type SlotTaken, slotScopes } from "./sessionSlots.js";

/**
 * A scope is a sorted set: slot id → end (Unix ms, Redis's own clock `TIME`, the one every gateway sharing the Redis
 * reads). Ended slots are dropped when read; the set expires with its last slot, so a crashed gateway's slots (and
 * every cool-down) free themselves at their end. Redis 5+ replicates a script's effects, so a script may read TIME.
 */
const COMMON = `
local function redisNowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local function live(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end
local function expireWithLast(key, now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now)) end
end
`;

/**
 * KEYS: key scope, key-and-model scope. ARGV: slot id, hold ms, limit per key, limit per key and model.
 * Returns {0, 0} taken, {1, waitMs} the key's limit, {2, waitMs} the model's.
 */
const TAKE = `${COMMON}
local now = redisNowMs()
for i = 1, 2 do
  if live(KEYS[i], now) >= tonumber(ARGV[2 + i]) then
    local first = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {i, math.max(0, tonumber(first[2]) - now)}
  end
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1])
  expireWithLast(KEYS[i], now)
end
return {0, 0}
`;

/** KEYS: both scopes. ARGV: slot id, hold ms. A slot already ended stays ended. */
const EXTEND = `${COMMON}
local now = redisNowMs()
for i = 1, 2 do
  if redis.call('ZSCORE', KEYS[i], ARGV[1]) then
    redis.call('ZADD', KEYS[i], 'XX', now + tonumber(ARGV[2]), ARGV[1])
    expireWithLast(KEYS[i], now)
  end
end
return 0
`;

/** KEYS: both scopes. ARGV: slot id, cool-down ms. Only the first release of a slot does anything. */
const RELEASE = `${COMMON}
local now = redisNowMs()
for i = 1, 2 do
  if redis.call('ZREM', KEYS[i], ARGV[1]) == 1 and tonumber(ARGV[2]) > 0 then
    redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), ARGV[1] .. ':cool')
  end
  expireWithLast(KEYS[i], now)
end
return 0
`;

/**
 * Session slots shared by every gateway on one Redis: two gateways behind one load balancer give a key its bound
 * once, not once each, and a restarted gateway still sees the cool-downs. Each take is one Lua script (checked and
 * taken atomically).
 */
export class RedisSessionSlots implements SessionSlots {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: { prefix?: string | undefined } = {}) {
    this.#redis = redis;
    this.#prefix = `${options.prefix ?? "atoma:"}cs:`;
  }

  #keys(keyId: string, model: string): [string, string] {
    const [keyScope, modelScope] = slotScopes(keyId, model);
    return [`${this.#prefix}k:${keyScope}`, `${this.#prefix}m:${modelScope}`];
  }

  async take(
    keyId: string,
    model: string,
    slotId: string,
    holdMs: number,
    limits: SessionSlotLimits,
  ): Promise<SlotTaken> {
    const [code, waitMs] = (await this.#redis.eval(
      TAKE,
      2,
      ...this.#keys(keyId, model),
      slotId,
      Math.ceil(holdMs),
      limits.perKey,
      limits.perKeyPerModel,
    )) as [number, number];
    if (code === 0) return { taken: true };
    const retryAfterSeconds = Number(waitMs) / 1000;
    return code === 1
      ? { taken: false, limit: limits.perKey, retryAfterSeconds }
      : { taken: false, limit: limits.perKeyPerModel, model, retryAfterSeconds };
  }

  async extend(keyId: string, model: string, slotId: string, holdMs: number): Promise<void> {
    await this.#redis.eval(EXTEND, 2, ...this.#keys(keyId, model), slotId, Math.ceil(holdMs));
  }

  async release(keyId: string, model: string, slotId: string, cooldownMs: number): Promise<void> {
    await this.#redis.eval(
      RELEASE,
      2,
      ...this.#keys(keyId, model),
      slotId,
      Math.max(0, Math.ceil(cooldownMs)),
    );
  }
}
