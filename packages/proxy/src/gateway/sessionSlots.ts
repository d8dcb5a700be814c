/** The per-key limits a session slot is taken under. */
export interface SessionSlotLimits {
  /** Slots (held or cooling) one key may have. */
  perKey: number;
  /** Slots (held or cooling) one key may have on one model. */
  perKeyPerModel: number;
}

/** A slot taken, or why not: the limit hit (`model` set when it was the model's), seconds until one frees. */
export type SlotTaken =
  | { taken: true }
  | { taken: false; limit: number; model?: string; retryAfterSeconds: number };

/**
 * Where confidential sessions' slots are counted: each session (opening, open or in flight) and each cool-down after
 * a session that served nothing is one slot of its key and of its key and model, with an end time, past which it no
 * longer counts (so a crashed gateway's slots free themselves). `take` checks the limits and takes the slot in one
 * atomic step; `release` ends a slot once (a second call does nothing), turning it into a cool-down when asked.
 */
export interface SessionSlots {
  take(
    keyId: string,
    model: string,
    slotId: string,
    holdMs: number,
    limits: SessionSlotLimits,
  ): Promise<SlotTaken>;
  /** Moves a held slot's end to `holdMs` from now (a request in flight holds its stack longer). */
  extend(keyId: string, model: string, slotId: string, holdMs: number): Promise<void>;
  /** Ends a held slot; with `cooldownMs` > 0 it counts on as a cool-down until then. */
  release(keyId: string, model: string, slotId: string, cooldownMs: number): Promise<void>;
}

/** The two counters a slot counts in. */
export function slotScopes(keyId: string, model: string): [string, string] {
  return [keyId, `${keyId}\u0000${model}`];
}
