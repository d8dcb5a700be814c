import { stackManagerAbi } from "@atoma/contracts";
import { costOfUnits } from "@atoma/core";
import { parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface BuyStackParams {
  taskId: bigint;
  units: bigint;
  /** The highest price per million units the buyer accepts; the node is drawn among those at or below it. */
  maxPricePerMillion: bigint;
  /** Seconds the stack may be used. */
  duration: bigint;
}

export interface BuyStackResult extends TxInfo {
  stackId: bigint;
  nodeId: bigint;
  pricePerMillion: bigint;
  escrow: bigint;
  expiresAt: bigint;
}

/** Buys a stack, approving the vault for the most it can cost (price cap plus the verification surcharge). */
export async function buyStack(ctx: ChainContext, params: BuyStackParams): Promise<BuyStackResult> {
  const [, , , , surchargeBps] = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "params",
  });
  const cost = costOfUnits(params.units, params.maxPricePerMillion);
  await ensureAllowance(ctx, ctx.addresses.AtomaVault, cost + (cost * BigInt(surchargeBps)) / 10_000n);
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "buyStack",
    args: [params.taskId, params.units, params.maxPricePerMillion, params.duration],
  });
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackBought" }),
    "StackBought",
  );
  return {
    ...txInfo(receipt),
    stackId: args.stackId,
    nodeId: args.nodeId,
    pricePerMillion: args.pricePerMillion,
    escrow: args.escrow,
    expiresAt: args.expiresAt,
  };
}

/** The owner asks the node to settle now; returns the deadline by which it must. */
export async function closeStack(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<TxInfo & { settleDeadline: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "closeStack",
    args: [params.stackId],
  });
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackClosed" }),
    "StackClosed",
  );
  return { ...txInfo(receipt), settleDeadline: args.settleDeadline };
}
