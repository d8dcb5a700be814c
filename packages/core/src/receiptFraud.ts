import type { Signed, SignedResponseFields } from "./eip712.js";
import type { StackLeaf } from "./stackLeaf.js";

/** A node-signed response as its receiver keeps it: the signed fields and the node's signature. */
export type SignedReceipt = Signed<SignedResponseFields>;

/**
 * A set of node-signed responses that cannot all be honest, in the shapes `ReceiptFraud` accepts on-chain:
 * - `nonce`: a response whose nonce is not its leaf index;
 * - `total`: a response whose running total cannot be (below its own units, or, at leaf 0, not equal to them);
 * - `overStack`: a running total beyond the units the stack bought;
 * - `runningTotal`: responses at leaves i and i+1 whose totals do not add up (cum(i+1) ≠ cum(i) + units(i+1));
 * - `sameNonce`: two responses with one nonce at different leaf indices.
 */
export type ReceiptFraudProof =
  | { kind: "nonce"; receipt: SignedReceipt }
  | { kind: "total"; receipt: SignedReceipt }
  | { kind: "overStack"; receipt: SignedReceipt; stackUnits: bigint }
  | { kind: "runningTotal"; previous: SignedReceipt; receipt: SignedReceipt }
  | { kind: "sameNonce"; first: SignedReceipt; second: SignedReceipt };

/** What is wrong with one response on its own, if anything (`stackUnits`: the units the stack bought). */
export function singleReceiptFraud(
  receipt: SignedReceipt,
  stackUnits?: bigint | undefined,
): ReceiptFraudProof | undefined {
  const f = receipt.fields;
  if (f.nonce !== f.leafIndex) return { kind: "nonce", receipt };
  if (f.cumulativeUnits < f.units || (f.leafIndex === 0n && f.cumulativeUnits !== f.units))
    return { kind: "total", receipt };
  if (stackUnits !== undefined && f.cumulativeUnits > stackUnits)
    return { kind: "overStack", receipt, stackUnits };
  return undefined;
}

/** What is wrong with two responses of one stack together, if anything. */
export function pairReceiptFraud(a: SignedReceipt, b: SignedReceipt): ReceiptFraudProof | undefined {
  if (a.fields.stackId !== b.fields.stackId) return undefined;
  const [first, second] = a.fields.leafIndex <= b.fields.leafIndex ? [a, b] : [b, a];
  const [i, j] = [first.fields, second.fields];
  if (i.leafIndex !== j.leafIndex && i.nonce === j.nonce) return { kind: "sameNonce", first, second };
  if (j.leafIndex === i.leafIndex + 1n && j.cumulativeUnits !== i.cumulativeUnits + j.units)
    return { kind: "runningTotal", previous: first, receipt: second };
  return undefined;
}

/**
 * The first proof of fraud among the responses a stack's owner kept (all of one stack), or undefined when they
 * are consistent: each alone, then each pair of neighbouring leaves, then any two sharing a nonce.
 */
export function findReceiptFraud(
  receipts: readonly SignedReceipt[],
  stackUnits?: bigint | undefined,
): ReceiptFraudProof | undefined {
  for (const receipt of receipts) {
    const found = singleReceiptFraud(receipt, stackUnits);
    if (found) return found;
  }
  const byIndex = new Map<bigint, SignedReceipt>();
  const byNonce = new Map<bigint, SignedReceipt>();
  for (const receipt of receipts) {
    byIndex.set(receipt.fields.leafIndex, receipt);
    const other = byNonce.get(receipt.fields.nonce);
    if (other) {
      const found = pairReceiptFraud(other, receipt);
      if (found) return found;
    }
    byNonce.set(receipt.fields.nonce, receipt);
  }
  for (const receipt of receipts) {
    const previous = byIndex.get(receipt.fields.leafIndex - 1n);
    if (!previous) continue;
    const found = pairReceiptFraud(previous, receipt);
    if (found) return found;
  }
  return undefined;
}

/**
 * The first leaf (or neighbouring pair of leaves) of a settled tree that breaks the leaf rules, in the shape
 * `ReceiptFraud.proveSettledLeaves` accepts: a nonce that is not its index, a running total below its units (or,
 * at leaf 0, not equal to them), beyond the settled units, a last total that is not the settled units, or
 * neighbours whose totals do not add up. Undefined when the leaves are consistent.
 */
export function findSettledLeafFraud(
  leaves: readonly StackLeaf[],
  settledUnits: bigint,
): StackLeaf[] | undefined {
  for (const [k, leaf] of leaves.entries()) {
    const broken =
      leaf.nonce !== leaf.leafIndex ||
      leaf.cumulativeUnits < leaf.units ||
      (leaf.leafIndex === 0n && leaf.cumulativeUnits !== leaf.units) ||
      leaf.cumulativeUnits > settledUnits ||
      (k === leaves.length - 1 && leaf.cumulativeUnits !== settledUnits);
    if (broken) return [leaf];
    const previous = leaves[k - 1];
    if (previous && leaf.cumulativeUnits !== previous.cumulativeUnits + leaf.units) return [previous, leaf];
  }
  return undefined;
}
