import { taskRegistryAbi } from "@atoma/contracts";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface SubscribeParams {
  taskId: bigint;
  nodeId: bigint;
  /** TOMA (wei) per 1,000,000 compute units. */
  pricePerMillion: bigint;
  /** Compute units the node accepts in unsettled stacks of this task at once. */
  capacity: bigint;
}

export interface SubscribeCollateral {
  /**
   * TOMA (wei) of the node's collateral bonded to the subscription: the value of its unsettled stacks never
   * exceeds it. @default the registry's minimum
   */
  collateral?: bigint | undefined;
}

/** The least collateral a subscription bonds. */
export async function minSubscriptionCollateral(ctx: Pick<ChainContext, "publicClient" | "addresses">) {
  const params = await ctx.publicClient.readContract({
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "params",
  });
  return params[5];
}

export async function subscribe(
  ctx: ChainContext,
  params: SubscribeParams & SubscribeCollateral,
): Promise<TxInfo> {
  const collateral = params.collateral ?? (await minSubscriptionCollateral(ctx));
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "subscribe",
    args: [params.taskId, params.nodeId, params.pricePerMillion, params.capacity, collateral],
  });
  return txInfo(receipt);
}

export async function updateSubscription(ctx: ChainContext, params: SubscribeParams): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "updateSubscription",
    args: [params.taskId, params.nodeId, params.pricePerMillion, params.capacity],
  });
  return txInfo(receipt);
}

/** Bonds more, or less, of the node's collateral to a subscription (at least the registry's minimum). */
export async function setSubscriptionCollateral(
  ctx: ChainContext,
  params: { taskId: bigint; nodeId: bigint; collateral: bigint },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "setSubscriptionCollateral",
    args: [params.taskId, params.nodeId, params.collateral],
  });
  return txInfo(receipt);
}

/**
 * Starts leaving a task: no new stack or consensus seat from now on, but the node stays a checking candidate
 * (attester, dispute committee) with its bond until `exitAt` (unix seconds, the task registry's exit notice from
 * now); then `completeExit` releases the bond. Subscribing again before cancels the exit.
 */
export async function unsubscribe(
  ctx: ChainContext,
  params: { taskId: bigint; nodeId: bigint },
): Promise<TxInfo & { exitAt: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "unsubscribe",
    args: [params.taskId, params.nodeId],
  });
  const event = single(
    parseEventLogs({ abi: taskRegistryAbi, logs: receipt.logs, eventName: "ExitStarted" }),
    "ExitStarted",
  );
  return { ...txInfo(receipt), exitAt: event.args.exitAt };
}

/** Completes an exit whose notice is over (anyone may): the subscription ends and its bond is released. */
export async function completeExit(
  ctx: ChainContext,
  params: { taskId: bigint; nodeId: bigint },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "completeExit",
    args: [params.taskId, params.nodeId],
  });
  return txInfo(receipt);
}
