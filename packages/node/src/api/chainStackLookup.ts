import { type AtomaPublicClient, readStack, StackStatus } from "@atoma/chain";
import type { Logger } from "@atoma/core";
import type { Address } from "viem";
import type { ChainStackLookup } from "./apiContext.js";

/**
 * Asks the StackManager which node serves a stack this node has no record of, to tell "another node's" (403)
 * from "unknown" (404). Answers naming another node are kept (a stack's node never changes), so repeated
 * requests for it cost no RPC; a failing chain reads as unknown.
 */
export function chainStackLookup(
  client: AtomaPublicClient,
  stackManager: Address,
  logger: Logger,
  maxRemembered = 10_000,
): ChainStackLookup {
  const foreign = new Map<bigint, bigint>();
  return async (stackId) => {
    const known = foreign.get(stackId);
    if (known !== undefined) return { nodeId: known };
    let stack: Awaited<ReturnType<typeof readStack>>;
    try {
      stack = await readStack(client, stackManager, stackId);
    } catch (error) {
      logger.warn({ err: error, stackId: String(stackId) }, "reading a stack from the chain failed");
      return undefined;
    }
    if (!stack) return undefined;
    // A stack still waiting for its draw or choice names node 0 and may become this node's: nothing is kept. One
    // cancelled before it served (closed with node 0) never will, so it is kept like another node's.
    if (stack.nodeId === 0n && stack.status !== StackStatus.Closed) return { nodeId: 0n };
    if (foreign.size >= maxRemembered) foreign.delete(foreign.keys().next().value!);
    foreign.set(stackId, stack.nodeId);
    return { nodeId: stack.nodeId };
  };
}
