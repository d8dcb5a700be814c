import { settlementManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface SubmitSettlementParams {
  stackId: bigint;
  /** Merkle root (OpenZeppelin sorted pairs) of the leaves H(reqHash ‖ respHash), in request order. */
  root: Hash;
  /** Units used, at most those bought. */
  units: bigint;
  /** Requests served: the number of leaves. */
  requestCount: bigint;
  /** Blob id H(bytes) of the inputs transcript. */
  transcriptId: Hash;
}

export type SubmitSettlementResult = TxInfo &
  (
    | { sampled: false; windowEnds: bigint }
    | { sampled: true; attesters: bigint[]; requestIndices: bigint[]; commitDeadline: bigint }
  );

/** The serving node submits its settlement; the result says whether attesters were sampled. */
export async function submitSettlement(
  ctx: ChainContext,
  params: SubmitSettlementParams,
): Promise<SubmitSettlementResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "settle",
    args: [params.stackId, params.root, params.units, params.requestCount, params.transcriptId],
  });
  const [sampled] = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "AttestersSampled",
  });
  if (sampled) {
    return {
      ...txInfo(receipt),
      sampled: true,
      attesters: [...sampled.args.attesters],
      requestIndices: [...sampled.args.requestIndices],
      commitDeadline: sampled.args.commitDeadline,
    };
  }
  const [accepted] = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "SettlementAccepted",
  });
  return { ...txInfo(receipt), sampled: false, windowEnds: accepted?.args.windowEnds ?? 0n };
}

/**
 * Several settlements in one transaction (`settleMany`), to spread the fixed cost; results by stack id. Whether
 * each is sampled is drawn when the transaction runs, so `gas` should cover every settlement being sampled.
 */
export async function submitSettlements(
  ctx: ChainContext,
  settlements: readonly SubmitSettlementParams[],
  options: { gas?: bigint | undefined } = {},
): Promise<TxInfo & { sampled: bigint[] }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "settleMany",
    args: [settlements.map((s) => ({ ...s }))],
    gas: options.gas,
  });
  const sampled = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "AttestersSampled",
  });
  return { ...txInfo(receipt), sampled: sampled.map((e) => e.args.stackId) };
}
