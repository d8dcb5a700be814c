import type { KeyRecord } from "./keyRecord.js";

/** Keys found lately, by hash, each until a time on the process's clock; bounded (full: emptied). */
export class KeyCache {
  readonly #entries = new Map<string, { record: KeyRecord; until: number }>();
  /** Moves on at every `clear`: a read begun before a change does not put its row back afterwards. */
  generation = 0;

  constructor(private readonly maxEntries = 10_000) {}

  get(hash: string, nowMs: number): KeyRecord | undefined {
    return this.entry(hash, nowMs)?.record;
  }

  /** The key and until when it is remembered, if it still is. */
  entry(hash: string, nowMs: number): { record: KeyRecord; until: number } | undefined {
    const entry = this.#entries.get(hash);
    if (!entry) return undefined;
    if (entry.until > nowMs) return entry;
    this.#entries.delete(hash);
    return undefined;
  }

  set(hash: string, record: KeyRecord, until: number): void {
    if (this.#entries.size >= this.maxEntries) this.#entries.clear();
    this.#entries.set(hash, { record, until });
  }

  /** Forgets every key (one changed). */
  clear(): void {
    this.#entries.clear();
    this.generation++;
  }
}
