import type { FraudEvidence } from "@atoma/chain/portable";
import { computeUnits, findReceiptFraud } from "@atoma/core";
import { hexToString } from "viem";
import type { KeptReceipt } from "./StackClient.js";

/** The units a kept receipt's answer used, from its result bytes; undefined when they cannot be read. */
function usageUnits(receipt: KeptReceipt): bigint | undefined {
  try {
    const usage = (JSON.parse(hexToString(receipt.result)) as { usage?: unknown }).usage;
    return computeUnits(usage as { prompt_tokens: number; completion_tokens?: number });
  } catch {
    return undefined;
  }
}

/**
 * Evidence, among the receipts an owner kept for one stack, that its node billed what it did not serve: receipts
 * that cannot all be honest (`findReceiptFraud`), else a receipt whose units are not its answer's usage. Undefined
 * when the receipts are consistent. Submit it with `proveReceiptFraud`.
 */
export function findKeptReceiptFraud(
  receipts: readonly KeptReceipt[],
  stackUnits?: bigint | undefined,
): FraudEvidence | undefined {
  const signed = findReceiptFraud(receipts, stackUnits);
  if (signed) return signed;
  const inflated = receipts.find((receipt) => {
    const used = usageUnits(receipt);
    return used !== undefined && used !== receipt.fields.units;
  });
  return inflated ? { kind: "units", receipt: inflated, result: inflated.result } : undefined;
}
