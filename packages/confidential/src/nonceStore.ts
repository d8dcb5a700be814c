import { randomBytes } from "node:crypto";
import { fromHex, type HexString, toHex } from "./bytes.js";
import { NonceReplayError, NonceUnknownError } from "./errors.js";

export interface NonceStoreOptions {
  /** How long an issued nonce may be answered, in milliseconds (default 5 minutes). */
  ttlMs?: number;
  /** How many nonces may be outstanding or remembered as spent at once (default 10 000); the oldest go first. */
  capacity?: number;
  /** The clock, in milliseconds; tests pass their own. */
  now?: () => number;
}

/**
 * The client's record of the nonces it asked nodes to attest to. Each nonce is accepted once: evidence that answers
 * a spent nonce is a replay, evidence for one never issued (or issued longer ago than the TTL) is refused too.
 */
export class NonceStore {
  readonly #ttlMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  /** nonce → issue time for outstanding nonces; spent ones keep their entry with `spent` set until they age out. */
  readonly #entries = new Map<string, { issuedAt: number; spent: boolean }>();

  constructor(options: NonceStoreOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 5 * 60_000;
    this.#capacity = options.capacity ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** A fresh random 32-byte nonce, remembered as outstanding. */
  issue(): HexString {
    this.#prune(1);
    const nonce = toHex(randomBytes(32));
    this.#entries.set(nonce, { issuedAt: this.#now(), spent: false });
    return nonce;
  }

  /** Marks `nonce` spent; throws `NonceReplayError` if it already was, `NonceUnknownError` if never issued or stale. */
  consume(nonce: HexString): void {
    const key = toHex(fromHex(nonce, "nonce", 32));
    this.#prune(0);
    const entry = this.#entries.get(key);
    if (entry?.spent)
      throw new NonceReplayError("this nonce was already answered once: the evidence is a replay");
    if (!entry) throw new NonceUnknownError("this nonce was not issued here, or was issued too long ago");
    entry.spent = true;
  }

  /** Drops entries older than the TTL, then the oldest while `room` more would not fit. */
  #prune(room: number): void {
    const cutoff = this.#now() - this.#ttlMs;
    for (const [nonce, entry] of this.#entries) {
      // Spent entries are kept as long as outstanding ones: a replay within the TTL must read as a replay.
      if (entry.issuedAt < cutoff || this.#entries.size + room > this.#capacity) this.#entries.delete(nonce);
      else break;
    }
  }
}
