import { computeUnits, type SignedReceipt } from "@atoma/core";
import { RunningTotalError, UnitsMismatchError } from "./errors.js";

export interface SequenceContext {
  /** The nonce the request was signed with: the leaf index its receipt must carry. */
  nonce: bigint;
  /** The usage the answer came with. */
  usage: { prompt_tokens: number; completion_tokens?: number | undefined };
  /** The units the stack bought, when known: no running total may exceed them. */
  stackUnits?: bigint | undefined;
}

/**
 * Checks a receipt against what the owner knows: its leaf index and nonce are the request's nonce, its units are
 * the answer's usage, and its running total is the previous receipt's plus its units (its units alone at leaf 0;
 * at least its units when the previous receipt is not at hand), within the stack. Throws `UnitsMismatchError` or
 * `RunningTotalError`.
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
  const usageUnits = computeUnits(context.usage);
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
