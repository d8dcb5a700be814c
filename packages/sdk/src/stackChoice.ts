import {
  buyStack,
  type ChainContext,
  findOwnedStacks,
  getNode,
  getStack,
  NodeStatus,
  StackStatus,
} from "@atoma/chain";
import { AtomaError } from "@atoma/core";
import type { Address } from "viem";
import type { SdkErrorCode } from "./errorCodes.js";

/** A stack that can no longer serve this owner (not its own, closed, expired, or its node gone). */
export class StackUnusableError extends AtomaError<SdkErrorCode> {
  override name = "StackUnusableError";
  constructor(message: string) {
    super("stack_unusable", message);
  }
}

/** A stack its owner can send requests to, and where its node is. */
export interface UsableStack {
  stackId: bigint;
  nodeId: bigint;
  nodeUrl: string;
  nodeSigner: Address;
  /** Compute units the stack bought: no receipt's running total may exceed them. */
  units: bigint;
  /** Bought by this run (rather than given or reused). */
  bought: boolean;
}

export interface BuyTerms {
  taskId: bigint;
  units: bigint;
  maxPricePerMillion: bigint;
  duration: bigint;
}

/** A reused stack must outlive the request by this much (the node settles stacks shortly before they expire). */
const REUSE_MARGIN_SECONDS = 600n;

/** A stack the owner names, after checking the key owns it and it can still serve. */
export async function givenStack(ctx: ChainContext, stackId: bigint): Promise<UsableStack> {
  const stack = await getStack(ctx, stackId);
  if (stack.status === StackStatus.None) throw new StackUnusableError(`there is no stack ${stackId}`);
  const owner = ctx.walletClient.account.address;
  if (stack.owner.toLowerCase() !== owner.toLowerCase())
    throw new StackUnusableError(`stack ${stackId} belongs to ${stack.owner}, not to this key (${owner})`);
  if (stack.status !== StackStatus.Active) throw new StackUnusableError(`stack ${stackId} is closed`);
  if (BigInt(stack.expiresAt) <= (await ctx.publicClient.getBlock()).timestamp)
    throw new StackUnusableError(`stack ${stackId} has expired`);
  return withNode(ctx, stackId, BigInt(stack.nodeId), false, BigInt(stack.units));
}

/** The owner's newest stack on the task that is active and not near expiry, if any. */
export async function reusableStack(ctx: ChainContext, taskId: bigint): Promise<UsableStack | undefined> {
  const now = (await ctx.publicClient.getBlock()).timestamp;
  const owned = await findOwnedStacks(ctx, { owner: ctx.walletClient.account.address, taskId });
  for (const candidate of owned) {
    if (candidate.expiresAt <= now + REUSE_MARGIN_SECONDS) continue;
    const stack = await getStack(ctx, candidate.stackId);
    if (stack.status !== StackStatus.Active) continue;
    return withNode(ctx, candidate.stackId, candidate.nodeId, false, BigInt(stack.units));
  }
  return undefined;
}

export async function boughtStack(ctx: ChainContext, terms: BuyTerms): Promise<UsableStack> {
  const bought = await buyStack(ctx, terms);
  return withNode(ctx, bought.stackId, bought.nodeId, true, terms.units);
}

async function withNode(
  ctx: ChainContext,
  stackId: bigint,
  nodeId: bigint,
  bought: boolean,
  units: bigint,
): Promise<UsableStack> {
  const node = await getNode(ctx, nodeId);
  if (node.status !== NodeStatus.Active)
    throw new StackUnusableError(`node ${nodeId}, which serves stack ${stackId}, is no longer active`);
  return { stackId, nodeId, nodeUrl: node.url, nodeSigner: node.signer, units, bought };
}
