/**
 * Fresh quotes each API key may have the gateway ask nodes for: a token bucket per key (`perMinute` refill, at most
 * `perMinute` at once). A node counts fresh quotes per source address and every user of the gateway shares its
 * address, so without this one key opening session after session (two nonces each) spends the gateway's whole share
 * of a node's quote budget and every other user meets the node's 429. Kept in this process's memory: each gateway
 * of several sharing a Redis grants its own allowance.
 */
export class FreshQuoteAllowance {
  readonly #perMinute: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perMinute: number, now: () => number = Date.now, maxKeys = 65_536) {
    this.#perMinute = perMinute;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Takes one of `keyId`'s fresh quotes: 0 when granted, else the seconds until one is free. */
  take(keyId: string): number {
    const now = this.#now();
    const bucket = this.#buckets.get(keyId) ?? { tokens: this.#perMinute, at: now };
    bucket.tokens = Math.min(this.#perMinute, bucket.tokens + ((now - bucket.at) / 60_000) * this.#perMinute);
    bucket.at = now;
    // Most recently asking last: the least recently asking key is forgotten first (it comes back with a full bucket,
    // no more than a key that waited a minute).
    this.#buckets.delete(keyId);
    this.#buckets.set(keyId, bucket);
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - bucket.tokens) * 60) / this.#perMinute));
  }
}
