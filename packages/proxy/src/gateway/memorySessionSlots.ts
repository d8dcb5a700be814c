import { type SessionSlotLimits, type SessionSlots, type SlotTaken, slotScopes } from "./sessionSlots.js";

/**
 * Session slots in this process's memory (one gateway, no Redis): each check and take runs before the first await,
 * so parallel opens of one key cannot all pass. Per scope, slot id → end (Unix ms); ended entries are dropped when
 * read.
 */
export class MemorySessionSlots implements SessionSlots {
  readonly #now: () => number;
  readonly #scopes = new Map<string, Map<string, number>>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  #live(scope: string): Map<string, number> {
    const now = this.#now();
    const slots = this.#scopes.get(scope) ?? new Map<string, number>();
    for (const [id, end] of slots) if (end <= now) slots.delete(id);
    if (slots.size === 0) this.#scopes.delete(scope);
    return slots;
  }

  async take(
    keyId: string,
    model: string,
    slotId: string,
    holdMs: number,
    limits: SessionSlotLimits,
  ): Promise<SlotTaken> {
    const [keyScope, modelScope] = slotScopes(keyId, model);
    const bounds: [string, number, string | undefined][] = [
      [keyScope, limits.perKey, undefined],
      [modelScope, limits.perKeyPerModel, model],
    ];
    for (const [scope, limit, onModel] of bounds) {
      const slots = this.#live(scope);
      if (slots.size >= limit) {
        const soonest = Math.min(...slots.values());
        const retryAfterSeconds = Math.max(0, soonest - this.#now()) / 1000;
        return onModel === undefined
          ? { taken: false, limit, retryAfterSeconds }
          : { taken: false, limit, model: onModel, retryAfterSeconds };
      }
    }
    const end = this.#now() + holdMs;
    for (const scope of [keyScope, modelScope]) {
      const slots = this.#scopes.get(scope) ?? new Map<string, number>();
      slots.set(slotId, end);
      this.#scopes.set(scope, slots);
    }
    // Keys that never come back: their scopes go once past (bounded by the keys seen in a session's time).
    if (this.#scopes.size > 2_048) for (const scope of [...this.#scopes.keys()]) this.#live(scope);
    return { taken: true };
  }

  async extend(keyId: string, model: string, slotId: string, holdMs: number): Promise<void> {
    const end = this.#now() + holdMs;
    for (const scope of slotScopes(keyId, model)) {
      const slots = this.#scopes.get(scope);
      if (slots?.has(slotId)) slots.set(slotId, end);
    }
  }

  async release(keyId: string, model: string, slotId: string, cooldownMs: number): Promise<void> {
    const end = this.#now() + cooldownMs;
    for (const scope of slotScopes(keyId, model)) {
      const slots = this.#scopes.get(scope);
      if (!slots?.delete(slotId)) continue;
      if (cooldownMs > 0) slots.set(`${slotId}:cool`, end);
      else if (slots.size === 0) this.#scopes.delete(scope);
    }
  }
}
