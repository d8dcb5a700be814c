import { stackManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

/** Stack statuses as the StackManager stores them (Choosing: a set drawn, its owner's choice of a member awaited). */
export const StackStatus = { None: 0, Active: 1, Settling: 2, Closed: 3, Pending: 4, Choosing: 5 } as const;

/** A stack (owner, task, serving node, units, price, escrow, expiry, status); status 0 when unknown. */
export function getStack(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "StackManager"> },
  stackId: bigint,
) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "getStack",
    args: [stackId],
  });
}
