import { settlementManagerAbi } from "@atoma/contracts";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface FinalizedStack {
  stackId: bigint;
  nodeId: bigint;
  nodeAmount: bigint;
  modelAmount: bigint;
  attesterAmountEach: bigint;
  refunded: bigint;
}

/** Pays out accepted settlements whose challenge window has closed (one transaction for all). Anyone may call. */
export async function finalizeSettlement(
  ctx: ChainContext,
  params: { stackIds: readonly bigint[] },
): Promise<TxInfo & { stacks: FinalizedStack[] }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: params.stackIds.length === 1 ? "finalize" : "finalizeMany",
    args: params.stackIds.length === 1 ? [params.stackIds[0]] : [params.stackIds],
  });
  const stacks = parseEventLogs({
    abi: settlementManagerAbi,
    logs: receipt.logs,
    eventName: "SettlementFinalized",
  }).map(({ args }) => ({ ...args }));
  return { ...txInfo(receipt), stacks };
}
