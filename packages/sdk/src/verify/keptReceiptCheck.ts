import { recoverResponseSigner, type SignedResponseFields } from "@atoma/core";
import { type Address, isAddressEqual, type TypedDataDomain } from "viem";
import type { KeptReceipt } from "../StackClient.js";

const FIELDS: readonly (keyof SignedResponseFields)[] = [
  "stackId",
  "leafIndex",
  "nonce",
  "reqHash",
  "respHash",
  "units",
  "cumulativeUnits",
  "seed",
];
const HASH = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

/**
 * Why a receipt read back from a store cannot be used as evidence on `stackId` (review of issue 13, LOW-1: a store
 * is text another script or a hand edit may have changed), or undefined when it is a receipt of that stack signed
 * by `nodeSigner`: its shape is checked, then its signature recovered again.
 */
export async function keptReceiptProblem(
  receipt: unknown,
  stackId: bigint,
  domain: TypedDataDomain,
  nodeSigner: Address,
): Promise<string | undefined> {
  const r = receipt as Partial<KeptReceipt> | null;
  if (typeof r !== "object" || r === null || typeof r.fields !== "object" || r.fields === null)
    return "not a receipt";
  const fields = r.fields as unknown as Record<string, unknown>;
  for (const name of FIELDS) {
    const value = fields[name];
    const ok =
      name === "reqHash" || name === "respHash"
        ? typeof value === "string" && HASH.test(value)
        : typeof value === "bigint" && value >= 0n;
    if (!ok) return `its field ${name} is not what a receipt holds`;
  }
  if (typeof r.signature !== "string" || !SIGNATURE.test(r.signature)) return "its signature is malformed";
  if (r.fields.stackId !== stackId) return `it is a receipt of stack ${r.fields.stackId}`;
  let signer: Address;
  try {
    signer = await recoverResponseSigner(domain, r.fields, r.signature);
  } catch {
    return "its signature does not recover";
  }
  return isAddressEqual(signer, nodeSigner) ? undefined : `it is not signed by the stack's node (${signer})`;
}

/** A kept receipt a client will not start from, and why (`keptReceiptProblem`). */
export interface RejectedKeptReceipt {
  receipt: unknown;
  reason: string;
}

/**
 * The kept receipts a client may start from (review of issue 13: stored state was checked again only by the audit,
 * never when a client read it back): each checked as `keptReceiptProblem` does, in the order given. Those that fail
 * are returned apart, never the base of the running total or of the next nonce; the store still holds them (they are
 * for the owner to look at, not to be dropped).
 */
export async function checkedKeptReceipts(
  receipts: readonly unknown[],
  stack: { stackId: bigint; domain: TypedDataDomain; nodeSigner: Address },
): Promise<{ receipts: KeptReceipt[]; rejected: RejectedKeptReceipt[] }> {
  const kept: KeptReceipt[] = [];
  const rejected: RejectedKeptReceipt[] = [];
  for (const receipt of receipts) {
    const reason = await keptReceiptProblem(receipt, stack.stackId, stack.domain, stack.nodeSigner);
    if (reason === undefined) kept.push(receipt as KeptReceipt);
    else rejected.push({ receipt, reason });
  }
  return { receipts: kept, rejected };
}
