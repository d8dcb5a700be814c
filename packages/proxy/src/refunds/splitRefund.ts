/** One key's weight in a refund's split: what it was charged on the stack, in wei. */
export interface RefundWeight {
  keyId: string;
  chargedWei: bigint;
}

/**
 * Splits `amount` among the keys in proportion to `chargedWei` (Hamilton's largest remainder): each key gets
 * ⌊amount × charged / total⌋, and the units those floors leave (fewer than the keys) go one each to the keys with the
 * largest remainders, ties to the larger charge, then the smaller key id. The shares add up to `amount` exactly (no
 * unit created or lost) and depend only on the weights, so every gateway splits a refund the same way. Keys charged
 * nothing get nothing; with none charged, nothing is split (an empty map).
 */
export function splitRefund(amount: bigint, weights: readonly RefundWeight[]): Map<string, bigint> {
  const charged = weights.filter((w) => w.chargedWei > 0n);
  const total = charged.reduce((sum, w) => sum + w.chargedWei, 0n);
  const shares = new Map<string, bigint>();
  if (amount <= 0n || total === 0n) return shares;
  let left = amount;
  const remainders = charged.map((w) => {
    const share = (amount * w.chargedWei) / total;
    shares.set(w.keyId, (shares.get(w.keyId) ?? 0n) + share);
    left -= share;
    return { ...w, remainder: (amount * w.chargedWei) % total };
  });
  remainders.sort(
    (a, b) =>
      compare(b.remainder, a.remainder) ||
      compare(b.chargedWei, a.chargedWei) ||
      (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0),
  );
  for (const w of remainders) {
    if (left === 0n) break;
    shares.set(w.keyId, (shares.get(w.keyId) ?? 0n) + 1n);
    left -= 1n;
  }
  return shares;
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
