import { computeUnits, type SignedReceipt } from "@atoma/core";
import { RunningTotalError, UnitsMismatchError } from "./errors.js";

export interface SequenceContext {
  /** The nonce the request was signed with: the leaf index its receipt must carry. */
  nonce: bigint;
  /** The usage the answer came with; undefined for a leaf adopted without its answer (its units unchecked). */
  usage?: { prompt_tokens: number; completion_tokens?: number | undefined } | undefined;
  /** The units the stack bought, when known: no running total may exceed them. */
  stackUnits?: bigint | undefined;
  /**
   * The most units the leaves between `previous` (or the stack's start) and this receipt may hold: the bounds the
   * owner signed at them (0: none signed). Undefined when unknown (a client on its first use of a stack).
   */
  gapUnits?: bigint | undefined;
}

/**
 * Checks a receipt against what the owner knows: its leaf index and nonce are the request's nonce, its units are
 * the answer's usage, and its running total is the previous receipt's plus its units (its units alone at leaf 0;
 * at least its units when the previous receipt is not at hand, and no more than the bounds signed in between
 * allow), within the stack. Throws `UnitsMismatchError` or `RunningTotalError`.
 */
export function checkReceiptSequence(
  receipt: SignedReceipt,
  previous: SignedReceipt | undefined,
  context: SequenceContext,
): void {
  const f = receipt.fields;
  if (f.nonce !== context.nonce || f.leafIndex !== context.nonce)
    throw new RunningTotalError(
      `the receipt is for leaf ${f.leafIndex} with nonce ${f.nonce}, the request carried nonce ${context.nonce}`,
      receipt,
      previous,
    );
  const usageUnits = context.usage ? computeUnits(context.usage) : f.units;
  if (f.units !== usageUnits) throw new UnitsMismatchError(receipt, usageUnits);
  const before = previous?.fields.leafIndex === f.leafIndex - 1n ? previous : undefined;
  const expected =
    f.leafIndex === 0n ? f.units : before ? before.fields.cumulativeUnits + f.units : undefined;
  if (expected !== undefined && f.cumulativeUnits !== expected)
    throw new RunningTotalError(
      `the running total is ${f.cumulativeUnits}, the receipts add up to ${expected}`,
      receipt,
      before,
    );
  const gapUnits = context.gapUnits;
  if (expected === undefined && gapUnits !== undefined) {
    const most = (previous?.fields.cumulativeUnits ?? 0n) + gapUnits + f.units;
    if (f.cumulativeUnits > most)
      throw new RunningTotalError(
        `the running total ${f.cumulativeUnits} exceeds the ${most} units the receipts and the bounds signed since allow`,
        receipt,
        previous,
      );
  }
  if (f.cumulativeUnits < f.units)
    throw new RunningTotalError(
      `the running total ${f.cumulativeUnits} is below the request's units`,
      receipt,
    );
  if (context.stackUnits !== undefined && f.cumulativeUnits > context.stackUnits)
    throw new RunningTotalError(
      `the running total ${f.cumulativeUnits} exceeds the ${context.stackUnits} units of the stack`,
      receipt,
    );
}
