import { stackManagerAbi } from "@atoma/chain";
import type { Address } from "viem";
import { insertStack, recordSettleDeadline } from "../accounting/stacks.js";
import { type ChainEventSource, eventSource } from "../listener/eventSource.js";

/**
 * Records every stack bought for this node, in the listener's transaction (so exactly once), and the settlement
 * deadline its owner's close sets (the freeze stops waiting for requests in flight as it nears). Stacks of other
 * nodes are not kept: a request for one is told so from the chain (403) rather than from this database.
 */
export function stackEvents(stackManager: Address, nodeId: bigint): ChainEventSource {
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
      StackClosed: async ({ args }, { db }) => {
        if (args.nodeId !== nodeId) return;
        await recordSettleDeadline(db, args.stackId, args.settleDeadline);
      },
    },
  });
}
