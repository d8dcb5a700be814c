import { stackManagerAbi } from "@atoma/chain";
import type { Address } from "viem";
import { insertStack } from "../accounting/stacks.js";
import { type ChainEventSource, eventSource } from "../listener/eventSource.js";

/**
 * Records every stack bought for this node, in the listener's transaction (so exactly once). Stacks of other
 * nodes are not kept: a request for one is told so from the chain (403) rather than from this database.
 */
export function stackPurchases(stackManager: Address, nodeId: bigint): ChainEventSource {
  return eventSource({
    name: "stack-api",
    address: stackManager,
    abi: stackManagerAbi,
    handlers: {
      StackBought: async (event, { db }) => {
        const {
          stackId,
          owner,
          nodeId: servingNodeId,
          taskId,
          units,
          pricePerMillion,
          expiresAt,
        } = event.args;
        if (servingNodeId !== nodeId) return;
        await insertStack(db, {
          stackId,
          owner,
          taskId,
          servingNodeId,
          unitsBought: BigInt(units),
          pricePerMillion,
          expiresAt: BigInt(expiresAt),
        });
      },
    },
  });
}
