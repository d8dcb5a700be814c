import {
  buyStack,
  type ChainContext,
  findOwnedStacks,
  getNode,
  getStack,
  NodeStatus,
  StackStatus,
} from "@atoma/chain";
import type { Address } from "viem";
import { CliUsageError } from "../errors.js";

/** A stack the chat can use, and where its node is. */
export interface ChatStack {
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

/** The stack `--stack` names, after checking the key owns it and it can still serve. */
export async function givenStack(ctx: ChainContext, stackId: bigint): Promise<ChatStack> {
  const stack = await getStack(ctx, stackId);
  if (stack.status === StackStatus.None) throw new CliUsageError(`there is no stack ${stackId}`);
  const owner = ctx.walletClient.account.address;
  if (stack.owner.toLowerCase() !== owner.toLowerCase())
    throw new CliUsageError(`stack ${stackId} belongs to ${stack.owner}, not to this key (${owner})`);
  if (stack.status !== StackStatus.Active)
    throw new CliUsageError(`stack ${stackId} is closed; leave out --stack to buy a new one`);
  if (BigInt(stack.expiresAt) <= (await ctx.publicClient.getBlock()).timestamp)
    throw new CliUsageError(`stack ${stackId} has expired; leave out --stack to buy a new one`);
  return withNode(ctx, stackId, BigInt(stack.nodeId), false, BigInt(stack.units));
}

/** The owner's newest stack on the task that is active and not near expiry, if any. */
export async function reusableStack(ctx: ChainContext, taskId: bigint): Promise<ChatStack | undefined> {
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

export async function boughtStack(ctx: ChainContext, terms: BuyTerms): Promise<ChatStack> {
  const bought = await buyStack(ctx, terms);
  return withNode(ctx, bought.stackId, bought.nodeId, true, terms.units);
}

async function withNode(
  ctx: ChainContext,
  stackId: bigint,
  nodeId: bigint,
  bought: boolean,
  units: bigint,
): Promise<ChatStack> {
  const node = await getNode(ctx, nodeId);
  if (node.status !== NodeStatus.Active)
    throw new CliUsageError(`node ${nodeId}, which serves stack ${stackId}, is no longer active`);
  return { stackId, nodeId, nodeUrl: node.url, nodeSigner: node.signer, units, bought };
}
