import { type AtomaPublicClient, stackManagerAbi } from "@atoma/chain";
import type { Address } from "viem";

/** A stack's security level as its purchase recorded it (3: confidential), or undefined for an unknown stack. */
export type StackLevelLookup = (stackId: bigint) => Promise<number | undefined>;

/** Security level 3: confidential compute, requests sealed to an attested node. */
export const CONFIDENTIAL_LEVEL = 3;

/**
 * Reads a stack's security level from the StackManager. A level never changes once bought, so each is kept
 * (bounded): the check costs one read per stack, not per request. A failing read is not kept.
 */
export function stackLevelLookup(
  client: AtomaPublicClient,
  stackManager: Address,
  maxRemembered = 10_000,
): StackLevelLookup {
  const levels = new Map<bigint, number>();
  return async (stackId) => {
    const known = levels.get(stackId);
    if (known !== undefined) return known;
    const count = await client.readContract({
      address: stackManager,
      abi: stackManagerAbi,
      functionName: "stackCount",
    });
    if (stackId === 0n || stackId > count) return undefined;
    const stack = await client.readContract({
      address: stackManager,
      abi: stackManagerAbi,
      functionName: "getStack",
      args: [stackId],
    });
    if (levels.size >= maxRemembered) levels.delete(levels.keys().next().value!);
    levels.set(stackId, stack.securityLevel);
    return stack.securityLevel;
  };
}
