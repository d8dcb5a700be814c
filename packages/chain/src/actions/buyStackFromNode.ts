import { EventNotFoundError } from "../errors.js";
import { type BuyStackParams, type BuyStackResult, openedStackOf, sendPurchase } from "./buyStack.js";
import type { ChainContext } from "./context.js";

export interface BuyStackFromNodeParams extends BuyStackParams {
  /** The node the buyer chose: one the draw could draw now (subscribed, eligible, within the cap, with room). */
  nodeId: bigint;
}

/**
 * Buys a stack served by a node the buyer chose by its own criteria, in one transaction: the stack is active at
 * once, at the node's price (at most `maxPricePerMillion`). The contract refuses a node the random draw could not
 * have drawn (`NodeNotOffered`).
 */
export async function buyStackFromNode(
  ctx: ChainContext,
  params: BuyStackFromNodeParams,
): Promise<BuyStackResult> {
  const { taskId, nodeId, units, maxPricePerMillion, duration } = params;
  const args = [taskId, nodeId, units, maxPricePerMillion, duration];
  const receipt = await sendPurchase(ctx, params, "buyStackFromNode", args);
  const opened = openedStackOf(receipt);
  if (!opened) throw new EventNotFoundError(`no StackBought event in ${receipt.transactionHash}`);
  return { ...opened, requestHash: opened.hash };
}
