import {
  buyStack,
  buyStackFromNode,
  buyStackFromSet,
  type ChainContext,
  findOwnedStacks,
  getNode,
  getStack,
  NodeStatus,
  type SetChooser,
  StackStatus,
} from "@atoma/chain/portable";
import { AtomaError } from "@atoma/core";
import type { Address } from "viem";
import { checkNodeId, checkPositive, checkPositiveInteger, checkStackId } from "./client/clientArguments.js";
import type { SdkErrorCode } from "./errorCodes.js";
import { checkedFromBlock } from "./verify/deploymentBlock.js";

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

/**
 * How a purchase picks its serving node, the protocol's three ways: drawn at random among the nodes the terms allow
 * (the default); a set of `size` drawn at random, whose member `choose` picks by the buyer's own criteria (default:
 * the cheapest; the pick is final: if that member can no longer serve, the purchase is cancelled and refunded and
 * `ChosenNodeCannotServeError` thrown, never another member bound); or a node the buyer names (`offeredNodes` in @atoma/chain lists those it may name).
 */
export type NodePick =
  | { kind: "drawn" }
  | { kind: "set"; size: number; choose?: SetChooser | undefined }
  | { kind: "node"; nodeId: bigint };

export interface BuyTerms {
  taskId: bigint;
  units: bigint;
  maxPricePerMillion: bigint;
  duration: bigint;
  /** @default { kind: "drawn" } */
  pick?: NodePick | undefined;
}

/** A reused stack must outlive the request by this much (the node settles stacks shortly before they expire). */
const REUSE_MARGIN_SECONDS = 600n;

/** A stack the owner names, after checking the key owns it and it can still serve. */
export async function givenStack(ctx: ChainContext, stackId: bigint): Promise<UsableStack> {
  checkStackId(stackId);
  const stack = await getStack(ctx, stackId);
  if (stack.status === StackStatus.None) throw new StackUnusableError(`there is no stack ${stackId}`);
  const owner = ctx.walletClient.account.address;
  if (stack.owner.toLowerCase() !== owner.toLowerCase())
    throw new StackUnusableError(`stack ${stackId} belongs to ${stack.owner}, not to this key (${owner})`);
  if (stack.status === StackStatus.Choosing)
    throw new StackUnusableError(`stack ${stackId} waits for its owner to choose a node of its drawn set`);
  // Closed by its owner but not settled yet (still Active, `closedAt` set): the node takes no more requests on it.
  if (stack.status !== StackStatus.Active || stack.closedAt !== 0n)
    throw new StackUnusableError(`stack ${stackId} is closed`);
  if (BigInt(stack.expiresAt) <= (await ctx.publicClient.getBlock()).timestamp)
    throw new StackUnusableError(`stack ${stackId} has expired`);
  return withNode(ctx, stackId, BigInt(stack.nodeId), false, BigInt(stack.units));
}

/**
 * The owner's newest stack on the task that is active and not near expiry, if any; its purchases are read from
 * `fromBlock` (the network's `deploymentBlock`; 0 when it is not the TaskRegistry's, `checkedFromBlock`). With
 * `rank`, only stacks it ranks are taken, the lowest rank first (the newest among equals).
 */
export async function reusableStack(
  ctx: ChainContext,
  taskId: bigint,
  fromBlock = 0n,
  rank?: (stack: { stackId: bigint; nodeId: bigint }) => number | undefined,
): Promise<UsableStack | undefined> {
  checkPositive(taskId, "taskId");
  const now = (await ctx.publicClient.getBlock()).timestamp;
  const from = await checkedFromBlock(ctx.publicClient, ctx.addresses.TaskRegistry, fromBlock);
  const owned = await findOwnedStacks(ctx, {
    owner: ctx.walletClient.account.address,
    taskId,
    fromBlock: from,
  });
  let best: { usable: UsableStack; rank: number } | undefined;
  for (const candidate of owned) {
    if (candidate.expiresAt <= now + REUSE_MARGIN_SECONDS) continue;
    const at = rank ? rank(candidate) : 0;
    if (at === undefined || (best !== undefined && at >= best.rank)) continue;
    const stack = await getStack(ctx, candidate.stackId);
    // Closed by its owner (this client after a node's word of exhaustion, or by hand): the node takes no more requests.
    if (stack.status !== StackStatus.Active || stack.closedAt !== 0n) continue;
    // A stack whose node was slashed or left cannot serve: skipped, so it never blocks the model (or an `order`).
    const node = await getNode(ctx, candidate.nodeId);
    if (node.status !== NodeStatus.Active) continue;
    best = {
      usable: {
        stackId: candidate.stackId,
        nodeId: candidate.nodeId,
        nodeUrl: node.url,
        nodeSigner: node.signer,
        units: BigInt(stack.units),
        bought: false,
      },
      rank: at,
    };
    if (at === 0) break;
  }
  return best?.usable;
}

/** Buys a stack on `terms`, its node picked as `terms.pick` says, and returns it with its node. */
export async function boughtStack(ctx: ChainContext, terms: BuyTerms): Promise<UsableStack> {
  checkTerms(terms);
  const { pick = { kind: "drawn" }, ...buy } = terms;
  const bought =
    pick.kind === "node"
      ? await buyStackFromNode(ctx, { ...buy, nodeId: pick.nodeId })
      : pick.kind === "set"
        ? await buyStackFromSet(ctx, { ...buy, setSize: pick.size, choose: pick.choose })
        : await buyStack(ctx, buy);
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

/** Terms checked before anything is approved or bought: `ClientArgumentError` names the bad one. */
function checkTerms(terms: BuyTerms): void {
  checkPositive(terms?.taskId, "terms.taskId");
  checkPositive(terms.units, "terms.units");
  checkNodeId(terms.maxPricePerMillion ?? null, "terms.maxPricePerMillion");
  checkPositive(terms.duration, "terms.duration");
  if (terms.pick?.kind === "node") checkNodeId(terms.pick.nodeId ?? null, "terms.pick.nodeId");
  if (terms.pick?.kind === "set") checkPositiveInteger(terms.pick.size, "terms.pick.size");
}
