import type { Stack } from "../accounting/types.js";

/**
 * When each active stack was last seen in use, in chain time: a new leaf or a request in flight restarts its
 * clock. Kept in memory (a restart starts every clock afresh, which only delays an idle settlement).
 */
export class IdleClock {
  readonly #seen = new Map<bigint, { leafCount: bigint; since: bigint }>();

  /** Chain time since which `stack` has served nothing (`now` when it is busy or first seen). */
  since(stack: Stack, now: bigint): bigint {
    const seen = this.#seen.get(stack.stackId);
    if (!seen || seen.leafCount !== stack.leafCount || stack.unitsReserved > 0n) {
      this.#seen.set(stack.stackId, { leafCount: stack.leafCount, since: now });
      return now;
    }
    return seen.since;
  }

  /** Forgets every stack but `active`. */
  retain(active: ReadonlySet<bigint>): void {
    for (const stackId of this.#seen.keys()) if (!active.has(stackId)) this.#seen.delete(stackId);
  }
}
