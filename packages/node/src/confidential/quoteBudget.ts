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

  /**
   * Takes one token, leaving at least `keep` behind; returns 0 when granted, else the seconds until one is free
   * (above `keep`).
   */
  take(keep = 0): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#perSecond);
    this.#at = now;
    if (this.#tokens >= 1 + keep) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 + keep - this.#tokens) / this.#perSecond));
  }

  /** Gives back a token taken for a quote that was not produced after all. */
  refund(): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + 1);
  }
}

export interface QuoteBudgetsOptions {
  /** The node's whole budget. */
  perSecond: number;
  burst: number;
  /** Each source's share (a source never takes more than this of the whole). */
  perSourcePerSecond: number;
  perSourceBurst: number;
  /** How many sources are remembered (the oldest, least recently asking, is forgotten first). @default 4096 */
  maxSources?: number | undefined;
  /**
   * Tokens of the whole kept for quiet sources: one granted a quote within `quietMs` may not take the last
   * `reserve`. @default a quarter of `burst`, rounded down
   */
  reserve?: number | undefined;
  /** @default 10000 */
  quietMs?: number | undefined;
  now?: (() => number) | undefined;
}

/**
 * The fresh-quote budget shared fairly: one bucket per source (an IP address, an IPv6 /64) inside the node's
 * whole bucket, whose last `reserve` tokens only a quiet source (no quote granted it within `quietMs`) may take.
 * A griefer looping over nonces spends its own share, and however many busy addresses it holds they share the
 * whole but its reserve: the reserve refills first and goes to clients asking now and then. Draining that too
 * takes a new quiet address for every quote (`perSecond` × `quietMs` of them in rotation); clients then fall back
 * to the epoch evidence the chain's record names.
 */
export class QuoteBudgets {
  readonly #options: QuoteBudgetsOptions;
  readonly #global: QuoteBudget;
  readonly #sources = new Map<string, QuoteBudget>();
  /** When each source was last granted a quote (forgotten with its bucket). */
  readonly #granted = new Map<string, number>();

  constructor(options: QuoteBudgetsOptions) {
    this.#options = options;
    this.#global = new QuoteBudget(options.perSecond, options.burst, options.now);
  }

  /** Takes a token for `source` and one of the whole; 0 when granted, else the seconds to wait. */
  take(source: string): number {
    const key = sourceKey(source);
    let bucket = this.#sources.get(key);
    if (bucket) this.#sources.delete(key);
    bucket ??= new QuoteBudget(
      this.#options.perSourcePerSecond,
      this.#options.perSourceBurst,
      this.#options.now,
    );
    this.#sources.set(key, bucket); // most recent last
    this.#prune();
    const own = bucket.take();
    if (own > 0) return own;
    const now = (this.#options.now ?? Date.now)();
    const last = this.#granted.get(key);
    const quiet = last === undefined || now - last >= (this.#options.quietMs ?? 10_000);
    const reserve = this.#options.reserve ?? Math.floor(this.#options.burst / 4);
    const all = this.#global.take(quiet ? 0 : reserve);
    if (all > 0) bucket.refund();
    else this.#granted.set(key, now);
    return all;
  }

  /** How many sources are remembered. */
  get sources(): number {
    return this.#sources.size;
  }

  #prune(): void {
    const max = this.#options.maxSources ?? 4096;
    for (const key of this.#sources.keys()) {
      if (this.#sources.size <= max) return;
      this.#sources.delete(key);
      this.#granted.delete(key);
    }
  }
}

/** IPv4 as is (also when IPv4-mapped in IPv6); IPv6 by its /64 prefix (one host holds a whole /64 cheaply). */
export function sourceKey(address: string): string {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  if (!lower.includes(":")) return lower;
  const [head = "", tail = ""] = lower.split("::");
  const left = head ? head.split(":") : [];
  const right = lower.includes("::") && tail ? tail.split(":") : [];
  const groups = lower.includes("::")
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
