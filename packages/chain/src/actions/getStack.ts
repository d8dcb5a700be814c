import { stackManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

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
