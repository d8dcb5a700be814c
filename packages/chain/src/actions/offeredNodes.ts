import { stackManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import { type BuyStackParams, candidateOf, type NodeCandidate } from "./buyStack.js";
import type { ChainContext } from "./context.js";
import { toCallError } from "./execute.js";

/**
 * The nodes a purchase on these terms could be served by now, each at its price (`StackManager.candidatesFor`):
 * what a random draw would draw among, and what a buyer may choose from (`buyStackFromNode`). Reverts
 * `NoEligibleNode` or `TooFewVerifiers` when there is none.
 */
export async function offeredNodes(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "StackManager"> },
  terms: Pick<BuyStackParams, "taskId" | "units" | "maxPricePerMillion">,
): Promise<NodeCandidate[]> {
  try {
    const offered = await ctx.publicClient.readContract({
      address: ctx.addresses.StackManager,
      abi: stackManagerAbi,
      functionName: "candidatesFor",
      args: [terms.taskId, terms.units, terms.maxPricePerMillion],
    });
    return offered.map(candidateOf);
  } catch (error) {
    throw toCallError("candidatesFor", error);
  }
}
