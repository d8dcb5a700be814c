import { receiptFraudAbi } from "@atoma/contracts";
import {
  type Hash,
  type ReceiptFraudProof,
  type SignedLeafDenial,
  type SignedReceipt,
  type StackLeaf,
  withRecoveryByte27,
} from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/**
 * Evidence `ReceiptFraud` accepts: node-signed receipts that cannot all be honest (`findReceiptFraud` finds them),
 * a receipt whose units are not the usage of the answer it signed (`result`: the answer's result bytes), or one
 * or two leaves under the node's settled root that break the leaf rules (from the inputs transcript), or the
 * node's signed denial of a request at a nonce with the leaf for that very request settled there (`deniedLeaf`).
 */
export type FraudEvidence =
  | ReceiptFraudProof
  | { kind: "units"; receipt: SignedReceipt; result: Hex }
  | {
      kind: "settledLeaves";
      stackId: bigint;
      leaves: readonly StackLeaf[];
      proofs: readonly (readonly Hash[])[];
    }
  | {
      kind: "deniedLeaf";
      stackId: bigint;
      denial: SignedLeafDenial;
      /** The leaf under the stack's settled root at the denied nonce, and its positional proof. */
      leaf: StackLeaf;
      proof: readonly Hash[];
    };

export type ProveReceiptFraudResult = TxInfo & {
  stackId: bigint;
  nodeId: bigint;
  /** `ReceiptFraud.KIND_*` of the rule the evidence broke. */
  kind: number;
  /** What the stack's owner got back (0 when the stack was already paid out). */
  refunded: bigint;
};

/** A node-signed receipt or denial as `ReceiptFraud` reads it: v 27/28 (its `tryRecover` answers address 0 for 0/1). */
function onChain<T extends { signature: Hex }>(signed: T): T {
  return { ...signed, signature: withRecoveryByte27(signed.signature) };
}

/** The evidence with every signature's v 27/28, so a signer's v 0/1 never makes a true proof revert. */
function normalised(evidence: FraudEvidence): FraudEvidence {
  switch (evidence.kind) {
    case "nonce":
    case "total":
    case "overStack":
    case "units":
      return { ...evidence, receipt: onChain(evidence.receipt) };
    case "runningTotal":
      return { ...evidence, previous: onChain(evidence.previous), receipt: onChain(evidence.receipt) };
    case "sameNonce":
      return { ...evidence, first: onChain(evidence.first), second: onChain(evidence.second) };
    case "settledLeaves":
      return evidence;
    case "deniedLeaf":
      return { ...evidence, denial: onChain(evidence.denial) };
  }
}

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
    case "deniedLeaf":
      return {
        functionName: "proveDeniedLeaf",
        args: [
          evidence.stackId,
          evidence.denial.fields,
          evidence.denial.signature,
          evidence.leaf,
          [...evidence.proof],
        ],
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
    ...call(normalised(evidence)),
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
