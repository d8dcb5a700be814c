import { taskRegistryAbi } from "@atoma/contracts";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface SubscribeParams {
  taskId: bigint;
  nodeId: bigint;
  /** TOMA (wei) per 1,000,000 compute units. */
  pricePerMillion: bigint;
  /** Compute units the node accepts in unsettled stacks of this task at once. */
  capacity: bigint;
}

export async function subscribe(ctx: ChainContext, params: SubscribeParams): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "subscribe",
    args: [params.taskId, params.nodeId, params.pricePerMillion, params.capacity],
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

export async function unsubscribe(
  ctx: ChainContext,
  params: { taskId: bigint; nodeId: bigint },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "unsubscribe",
    args: [params.taskId, params.nodeId],
  });
  return txInfo(receipt);
}
