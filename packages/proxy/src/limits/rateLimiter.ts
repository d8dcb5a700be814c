import { RateLimitExceededError } from "../errors.js";
import type { KeyRateLimiter } from "./keyRateLimiter.js";

/** A per-minute allowance that refills continuously (a token bucket holding at most one minute's worth). */
class Bucket {
  level: number;
  constructor(
    public perMinute: number,
    public at: number,
  ) {
    this.level = perMinute;
  }

  refill(now: number): void {
    this.level = Math.min(this.perMinute, this.level + ((now - this.at) * this.perMinute) / 60_000);
    this.at = now;
  }

  /** Milliseconds until `amount` is there. */
  waitFor(amount: number): number {
    return Math.ceil(((amount - this.level) * 60_000) / this.perMinute);
  }
}

export interface KeyLimits {
  keyId: string;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

/** What a request took from its key's allowance; `refund` gives back the tokens it did not use. */
export interface RateTicket {
  refund(unusedTokens: number): void;
}

const NOTHING: RateTicket = { refund: () => {} };

/**
 * Requests and tokens per minute, per key, in this process's memory. A request takes one request and its
 * maximum tokens before it is sent (so concurrent requests cannot all pass on the same allowance) and gives the
 * unused tokens back once it settles. A limit the admin changes applies from the next request.
 */
export class RateLimiter implements KeyRateLimiter {
  readonly #requests = new Map<string, Bucket>();
  readonly #tokens = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Throws `RateLimitExceededError` (with the wait in seconds) when either allowance is short; takes nothing then. */
  take(limits: KeyLimits, maxTokens: number): RateTicket {
    const now = this.now();
    const requests = this.#bucket(this.#requests, limits.keyId, limits.requestsPerMinute, now);
    const tokens = this.#bucket(this.#tokens, limits.keyId, limits.tokensPerMinute, now);
    if (tokens && maxTokens > tokens.perMinute) throw new RateLimitExceededError("tokens", 60, true);
    if (requests && requests.level < 1)
      throw new RateLimitExceededError("requests", seconds(requests.waitFor(1)));
    if (tokens && tokens.level < maxTokens)
      throw new RateLimitExceededError("tokens", seconds(tokens.waitFor(maxTokens)));
    if (requests) requests.level -= 1;
    if (!tokens) return NOTHING;
    tokens.level -= maxTokens;
    let refunded = false;
    return {
      refund: (unused) => {
        if (refunded || unused <= 0) return;
        refunded = true;
        tokens.level = Math.min(tokens.perMinute, tokens.level + Math.min(unused, maxTokens));
      },
    };
  }

  #bucket(
    buckets: Map<string, Bucket>,
    keyId: string,
    perMinute: number | null,
    now: number,
  ): Bucket | undefined {
    if (perMinute === null) {
      buckets.delete(keyId);
      return undefined;
    }
    let bucket = buckets.get(keyId);
    if (!bucket) {
      bucket = new Bucket(perMinute, now);
      buckets.set(keyId, bucket);
    }
    bucket.refill(now);
    if (bucket.perMinute !== perMinute) {
      bucket.perMinute = perMinute;
      bucket.level = Math.min(bucket.level, perMinute);
    }
    return bucket;
  }
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
