import { stackManagerAbi } from "@atoma/contracts";
import {
  ChosenNodeCannotServeError,
  EventNotFoundError,
  StackCancelledError,
  UnexpectedOutcomeError,
} from "../errors.js";
import {
  type BuyStackParams,
  type BuyStackResult,
  cancelledRefundOf,
  candidateOf,
  drawNode,
  type NodeCandidate,
  type OpenedStack,
  openedStackOf,
  type StackRequest,
  sendPurchase,
  stackRequestOf,
} from "./buyStack.js";
import type { ChainContext } from "./context.js";
import { execute } from "./execute.js";

export interface BuyStackFromSetParams extends BuyStackParams {
  /**
   * How many nodes the set draws (2 to `StackManager.MAX_SET_SIZE`; fewer only when fewer were frozen), whether or
   * not each can still serve when it is chosen.
   */
  setSize: number;
}

/**
 * How the buyer picks the member of the drawn set that will serve: its own criteria (latency, price, …). The pick
 * is final: if that member can no longer serve, the purchase is cancelled (`ChosenNodeCannotServeError`), never
 * moved to another member.
 */
export type SetChooser = (set: readonly NodeCandidate[]) => bigint | Promise<bigint>;

export interface BuyStackFromSetResult extends BuyStackResult {
  /** The set drawn, each member at the price it asked at the purchase. */
  set: NodeCandidate[];
  /** The transaction that drew the set (the result's `hash` is the choice's). */
  drawHash: BuyStackResult["hash"];
}

/**
 * The first step of a set purchase: freezes the candidates and locks the escrow, as `requestStack`; the set of up
 * to `setSize` members is drawn by `drawNode` in a later block.
 */
export async function requestStackFromSet(
  ctx: ChainContext,
  params: BuyStackFromSetParams,
): Promise<StackRequest> {
  const { taskId, units, maxPricePerMillion, duration, setSize } = params;
  const args = [taskId, units, maxPricePerMillion, duration, setSize];
  return stackRequestOf(await sendPurchase(ctx, params, "buyStackFromSet", args));
}

/**
 * The set drawn for a stack waiting for its owner's choice, from its `NodeSetDrawn` event, searched from the block
 * its draw was armed on (the set is drawn after it). `EventNotFoundError` once the stack is bound (its words then
 * hold the binding, the purchase's blocks read 0: a search from block 0 could outrun a provider's log range).
 */
export async function drawnSetOf(ctx: ChainContext, stackId: bigint): Promise<NodeCandidate[]> {
  const { armedAt } = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "getPurchase",
    args: [stackId],
  });
  if (armedAt === 0n)
    throw new EventNotFoundError(
      `stack ${stackId} keeps no purchase block: it is bound (or was never bought)`,
    );
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    eventName: "NodeSetDrawn",
    args: { stackId },
    fromBlock: armedAt,
  });
  const set = logs.find((log) => log.args.stackId === stackId)?.args.set;
  if (!set) throw new EventNotFoundError(`no NodeSetDrawn event for stack ${stackId}`);
  return set.map(candidateOf);
}

/**
 * The owner binds its stack to `nodeId`, a member of its drawn set (read from its `NodeSetDrawn` event when `set`
 * is not given); the stack is then active on that node alone. Throws `ChosenNodeCannotServeError` when that member
 * could no longer serve it, and `StackCancelledError` when the choice came past the draw limit: either way the
 * stack was cancelled and refunded in full instead, and no other member was bound.
 */
export async function chooseFromSet(
  ctx: ChainContext,
  params: { stackId: bigint; nodeId: bigint; set?: readonly NodeCandidate[] | undefined },
): Promise<OpenedStack> {
  const set = params.set ?? (await drawnSetOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "chooseFromSet",
    args: [params.stackId, set.map(candidateOf), params.nodeId],
  });
  const opened = openedStackOf(receipt);
  if (opened) return opened;
  const refunded = cancelledRefundOf(receipt);
  if (refunded === undefined)
    throw new EventNotFoundError(`no StackBought event for stack ${params.stackId}`);
  if (await pastDrawLimit(ctx, params.stackId, receipt.blockNumber))
    throw new StackCancelledError(params.stackId, refunded);
  throw new ChosenNodeCannotServeError(params.stackId, params.nodeId, refunded);
}

/** Whether block `blockNumber` came past the stack's draw limit (what cancels a choice besides the member). */
async function pastDrawLimit(ctx: ChainContext, stackId: bigint, blockNumber: bigint): Promise<boolean> {
  const read = { address: ctx.addresses.StackManager, abi: stackManagerAbi } as const;
  const [{ boughtTime }, limit, block] = await Promise.all([
    ctx.publicClient.readContract({ ...read, functionName: "getPurchase", args: [stackId] }),
    ctx.publicClient.readContract({ ...read, functionName: "DRAW_LIMIT" }),
    ctx.publicClient.getBlock({ blockNumber }),
  ]);
  return block.timestamp > BigInt(boughtTime) + limit;
}

/** The owner cancels its stack while it waits for its choice from the drawn set; returns the full refund. */
export async function cancelChoice(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<{ hash: BuyStackResult["hash"]; refunded: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "cancelChoice",
    args: [params.stackId],
  });
  const refunded = cancelledRefundOf(receipt);
  if (refunded === undefined)
    throw new EventNotFoundError(`no StackCancelled event for stack ${params.stackId}`);
  return { hash: receipt.transactionHash, refunded };
}

/** The cheapest member of a set, the first drawn among equals. */
export const cheapestMember: SetChooser = (set) => {
  const [first, ...rest] = set;
  if (!first) throw new UnexpectedOutcomeError("an empty set has no member to choose");
  return rest.reduce((best, c) => (c.pricePerMillion < best.pricePerMillion ? c : best), first).nodeId;
};

/** A set purchase whose set is drawn: the owner's choice (`chooseFromSet`) is what is left. */
export interface DrawnSetPurchase {
  stackId: bigint;
  set: NodeCandidate[];
  requestHash: BuyStackResult["hash"];
  drawHash: BuyStackResult["hash"];
}

/**
 * A set purchase up to its draw: the purchase, then the set's draw in a later block (drawn again while it comes
 * back re-armed). Throws `StackCancelledError` when the draw limit had passed.
 */
export async function requestAndDrawSet(
  ctx: ChainContext,
  params: BuyStackFromSetParams,
): Promise<DrawnSetPurchase> {
  const request = await requestStackFromSet(ctx, params);
  for (;;) {
    const drawn = await drawNode(ctx, {
      stackId: request.stackId,
      candidates: request.candidates,
      setSize: params.setSize,
    });
    if (drawn.outcome === "rearmed") continue;
    if (drawn.outcome === "cancelled") throw new StackCancelledError(request.stackId, drawn.refunded);
    if (drawn.outcome !== "setDrawn")
      throw new UnexpectedOutcomeError(`stack ${request.stackId}'s set draw ended ${drawn.outcome}`);
    return { stackId: request.stackId, set: drawn.set, requestHash: request.hash, drawHash: drawn.hash };
  }
}

/**
 * Buys a stack from a set drawn at random (`requestAndDrawSet`), then binds it to the member `choose` picks by the
 * buyer's own criteria (default: the cheapest). When that member can no longer serve, throws
 * `ChosenNodeCannotServeError` (the purchase cancelled and refunded): it never falls back to another member,
 * which could be one a third party left it by filling the others.
 */
export async function buyStackFromSet(
  ctx: ChainContext,
  params: BuyStackFromSetParams & { choose?: SetChooser | undefined },
): Promise<BuyStackFromSetResult> {
  const drawn = await requestAndDrawSet(ctx, params);
  const nodeId = await (params.choose ?? cheapestMember)(drawn.set);
  const chosen = await chooseFromSet(ctx, { stackId: drawn.stackId, nodeId, set: drawn.set });
  return { ...chosen, set: drawn.set, drawHash: drawn.drawHash, requestHash: drawn.requestHash };
}
