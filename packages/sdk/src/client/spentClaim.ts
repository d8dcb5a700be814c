import { type ChainContext, getStack, StackStatus } from "@atoma/chain/portable";
import type { NodeRequestError } from "../errors.js";
import { requestUnitBound } from "../requestUnitBound.js";
import type { StackClient } from "../StackClient.js";
import type { UsableStack } from "../stackChoice.js";

/** Answers that say a stack can serve no more. */
export const STACK_SPENT = new Set(["stack_exhausted", "stack_expired", "stack_closed"]);

/**
 * Why a node's claim that `stack` is spent is false, or undefined when the chain (or the client's own count of the
 * units the node signed for) bears it out. Closed and expired are read on-chain; exhausted holds when the stack is
 * no longer active or expired, when the units left by the receipts seen are fewer than the request may take, or
 * when this client cannot know (a stack reused from an earlier run, none of its receipts seen here).
 */
export async function falseSpentClaim(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stack: UsableStack,
  client: StackClient,
  body: Record<string, unknown>,
  error: NodeRequestError,
): Promise<string | undefined> {
  const [onChain, block] = await Promise.all([getStack(ctx, stack.stackId), ctx.publicClient.getBlock()]);
  if (onChain.status !== StackStatus.Active) return undefined;
  if (BigInt(onChain.expiresAt) <= block.timestamp) return undefined;
  const live = `the chain says stack ${stack.stackId} is active until ${onChain.expiresAt}`;
  if (error.code !== "stack_exhausted") return `node ${stack.nodeId} says ${error.code}, but ${live}`;
  if (!stack.bought && client.receipts.length === 0) return undefined;
  const left = BigInt(onChain.units) - usedUnits(client);
  const needed = neededUnits(body);
  if (left < needed) return undefined;
  return `node ${stack.nodeId} says stack_exhausted, but ${live} and the receipts it signed leave ${left} of ${onChain.units} units, ${needed} needed`;
}

/** A node settles a stack shortly before it expires (or once spent): closing one long before is refusing to serve. */
const SETTLE_MARGIN_SECONDS = 600n;

/** The most units the node signed for on this client's stack (its receipts' running total). */
function usedUnits(client: StackClient): bigint {
  let used = 0n;
  for (const receipt of client.receipts)
    if (receipt.fields.cumulativeUnits > used) used = receipt.fields.cumulativeUnits;
  return used;
}

function neededUnits(body: Record<string, unknown>): bigint {
  try {
    return requestUnitBound(body);
  } catch {
    return 1n;
  }
}

/**
 * Whether the node closed (settled) a stack this run bought long before it expired, with units left for the
 * request: the chain bears the node out, yet each such stack costs its owner a purchase for little service.
 */
export async function closedEarly(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  stack: UsableStack,
  client: StackClient,
  body: Record<string, unknown>,
): Promise<boolean> {
  if (!stack.bought) return false;
  const [onChain, block] = await Promise.all([getStack(ctx, stack.stackId), ctx.publicClient.getBlock()]);
  if (onChain.status === StackStatus.Active) return false;
  if (BigInt(onChain.expiresAt) <= block.timestamp + SETTLE_MARGIN_SECONDS) return false;
  return BigInt(onChain.units) - usedUnits(client) >= neededUnits(body);
}
