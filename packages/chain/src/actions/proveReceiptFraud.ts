import { receiptFraudAbi } from "@atoma/contracts";
import type { Hash, ReceiptFraudProof, SignedReceipt, StackLeaf } from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/**
 * Evidence `ReceiptFraud` accepts: node-signed receipts that cannot all be honest (`findReceiptFraud` finds them),
 * a receipt whose units are not the usage of the answer it signed (`result`: the answer's result bytes), or one
 * or two leaves under the node's settled root that break the leaf rules (from the inputs transcript).
 */
export type FraudEvidence =
  | ReceiptFraudProof
  | { kind: "units"; receipt: SignedReceipt; result: Hex }
  | {
      kind: "settledLeaves";
      stackId: bigint;
      leaves: readonly StackLeaf[];
      proofs: readonly (readonly Hash[])[];
    };

export type ProveReceiptFraudResult = TxInfo & {
  stackId: bigint;
  nodeId: bigint;
  /** `ReceiptFraud.KIND_*` of the rule the evidence broke. */
  kind: number;
  /** What the stack's owner got back (0 when the stack was already paid out). */
  refunded: bigint;
};

function call(evidence: FraudEvidence) {
  switch (evidence.kind) {
    case "nonce":
    case "total":
    case "overStack":
      return {
        functionName: "proveResponse",
        args: [evidence.receipt.fields, evidence.receipt.signature],
      } as const;
    case "runningTotal":
      return {
        functionName: "proveResponses",
        args: [
          evidence.previous.fields,
          evidence.previous.signature,
          evidence.receipt.fields,
          evidence.receipt.signature,
        ],
      } as const;
    case "sameNonce":
      return {
        functionName: "proveResponses",
        args: [
          evidence.first.fields,
          evidence.first.signature,
          evidence.second.fields,
          evidence.second.signature,
        ],
      } as const;
    case "units":
      return {
        functionName: "proveUnits",
        args: [evidence.receipt.fields, evidence.receipt.signature, evidence.result],
      } as const;
    case "settledLeaves":
      return {
        functionName: "proveSettledLeaves",
        args: [evidence.stackId, [...evidence.leaves], evidence.proofs.map((proof) => [...proof])],
      } as const;
  }
}

/**
 * Submits proof that a node billed what it did not serve: the node is slashed as for fraud and never paid for the
 * stack (its owner is refunded unless it was already paid out). Anyone may call; one proof per stack.
 */
export async function proveReceiptFraud(
  ctx: ChainContext,
  evidence: FraudEvidence,
): Promise<ProveReceiptFraudResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ReceiptFraud,
    abi: receiptFraudAbi,
    ...call(evidence),
  });
  const { args } = single(
    parseEventLogs({ abi: receiptFraudAbi, logs: receipt.logs, eventName: "FraudProven" }),
    "FraudProven",
  );
  return {
    ...txInfo(receipt),
    stackId: args.stackId,
    nodeId: args.nodeId,
    kind: args.kind,
    refunded: args.refunded,
  };
}
