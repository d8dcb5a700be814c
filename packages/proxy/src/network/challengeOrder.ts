import { randomInt } from "node:crypto";

/**
 * The challenges to open now when the wallet can pay only `affordable` bonds (review challenges LOW-3). The ones
 * that pin the running totals go first, as given (`pinned`: the receipt and the last leaf); the rest are drawn at
 * random. Opened in a fixed order, the node (which reads the wallet's balance on-chain) hid its excess in the
 * highest leaf the balance left out; drawn at random, each leaf is challenged with the share of bonds covered,
 * and the rest are opened at a later pass once the wallet is funded, while the window lasts.
 */
export function affordableChallenges<T>(
  wanted: readonly T[],
  pinned: number,
  affordable: number,
  draw: (below: number) => number = randomInt,
): T[] {
  if (affordable >= wanted.length) return [...wanted];
  const first = wanted.slice(0, pinned);
  const rest = wanted.slice(pinned);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = draw(i + 1);
    [rest[i], rest[j]] = [rest[j] as T, rest[i] as T];
  }
  return [...first, ...rest].slice(0, Math.max(affordable, 0));
}
