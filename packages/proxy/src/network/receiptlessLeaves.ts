/** What the gateway signed at a nonce: a bound, none ("unsigned"), or a legacy signature without one. */
export type SignedAt = bigint | "unsigned" | "unbounded";

/** The leaves to challenge by index past the gateway's last receipt, and why. */
export interface ReceiptlessPlan {
  /** Earliest first. */
  leaves: bigint[];
  /** The single leaf is one the gateway never signed (the node cannot answer it at all). */
  unsigned: boolean;
}

/**
 * The leaves to challenge by index among `first..count-1` (those past the last receipt the settlement counts):
 * the first the gateway never signed, alone (gap leaves between signed ones included); else, when the units claimed
 * above the receipts (`excess`) exceed the sum of the bounds signed at each of them, every one of them, earliest
 * first: the node must answer each with its running total following from the leaf before, so wherever it put the
 * excess, that leaf cannot be answered (review fresh HIGH-1); else none (the node could prove each). The scan stops
 * after `signedCount + 1` leaves: past every nonce signed, a leaf is one the gateway never signed.
 */
export function receiptlessLeaves(
  first: bigint,
  count: bigint,
  excess: bigint,
  signedCount: bigint,
  signedAt: (nonce: bigint) => SignedAt,
): ReceiptlessPlan {
  const none: ReceiptlessPlan = { leaves: [], unsigned: false };
  if (first >= count) return none;
  const scanEnd = first + signedCount + 1n;
  const end = count < scanEnd ? count : scanEnd;
  const leaves: bigint[] = [];
  let allowed = 0n;
  for (let i = first; i < end; i++) {
    const bound = signedAt(i);
    if (bound === "unsigned") return { leaves: [i], unsigned: true };
    if (bound === "unbounded") return none;
    allowed += bound;
    leaves.push(i);
  }
  return excess > allowed ? { leaves, unsigned: false } : none;
}
