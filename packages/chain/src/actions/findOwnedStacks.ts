import { stackManagerAbi } from "@atoma/contracts";
import type { Address } from "viem";
import type { ChainContext } from "./context.js";

export interface OwnedStack {
  stackId: bigint;
  nodeId: bigint;
  taskId: bigint;
  units: bigint;
  expiresAt: bigint;
}

/**
 * The stacks `owner` bought (optionally on one task), newest first, from the StackManager's `StackBought` logs
 * since `fromBlock` (default 0: fine on a local chain; a public chain wants the deployment block).
 */
export async function findOwnedStacks(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<ChainContext["addresses"], "StackManager"> },
  params: { owner: Address; taskId?: bigint | undefined; fromBlock?: bigint | undefined },
): Promise<OwnedStack[]> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    eventName: "StackBought",
    args: { owner: params.owner },
    fromBlock: params.fromBlock ?? 0n,
    strict: true,
  });
  return logs
    .map(({ args }) => ({
      stackId: args.stackId,
      nodeId: args.nodeId,
      taskId: args.taskId,
      units: BigInt(args.units),
      expiresAt: BigInt(args.expiresAt),
    }))
    .filter((stack) => params.taskId === undefined || stack.taskId === params.taskId)
    .reverse();
}
