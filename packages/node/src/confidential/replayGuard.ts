/**
 * The encapsulated keys of sealed requests this node opened, until their signed deadline passes. A sealed request
 * is bound to its stack, nonce and deadline (HPKE `info`), so once the deadline is past it cannot open anyway:
 * remembering keys until then is enough, and bounds the memory to the requests of the deadline window.
 */
export class ReplayGuard {
  /** enc → the signed request (`stackId/nonce`) that used it and its deadline (unix seconds). */
  readonly #seen = new Map<string, { owner: string; deadline: bigint }>();

  /** True when `enc` was used, within its deadline, by a signed request other than `owner` (a resend is not). */
  seenByOther(enc: string, owner: string, nowSeconds: bigint): boolean {
    const seen = this.#seen.get(enc.toLowerCase());
    return seen !== undefined && seen.deadline >= nowSeconds && seen.owner !== owner;
  }

  record(enc: string, owner: string, deadline: bigint, nowSeconds: bigint): void {
    this.#seen.set(enc.toLowerCase(), { owner, deadline });
    if (this.#seen.size % 256 === 0) this.prune(nowSeconds);
  }

  prune(nowSeconds: bigint): void {
    for (const [enc, entry] of this.#seen) if (entry.deadline < nowSeconds) this.#seen.delete(enc);
  }

  get size(): number {
    return this.#seen.size;
  }
}
