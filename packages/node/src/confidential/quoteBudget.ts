/**
 * A token bucket for fresh quotes: `perSecond` refill, at most `burst` at once. A griefer asking for evidence on
 * new nonces in a tight loop gets 429 once it is spent, and the TEE is never asked more often than that.
 */
export class QuoteBudget {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, burst: number, now: () => number = Date.now) {
    this.#perSecond = perSecond;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#at = now();
  }

  /** Takes one token; returns 0 when granted, else the seconds until one is free. */
  take(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#perSecond);
  }
}
