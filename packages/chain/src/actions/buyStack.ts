import { stackManagerAbi } from "@atoma/contracts";
import { costOfUnits } from "@atoma/core";
import { parseEventLogs, type TransactionReceipt } from "viem";
import {
  ContractRevertError,
  EventNotFoundError,
  StackCancelledError,
  UnexpectedOutcomeError,
} from "../errors.js";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";
import { checkersForListedDraw, isListedHash, listedOrder } from "./listedDraw.js";
import { offeredNodes } from "./offeredNodes.js";

export interface BuyStackParams {
  taskId: bigint;
  units: bigint;
  /** The highest price per million units the buyer accepts; the node is drawn among those at or below it. */
  maxPricePerMillion: bigint;
  /** Seconds the stack may be used, from the draw of its node. */
  duration: bigint;
}

/** A node the draw may pick, with the price it asked at the purchase (`StackManager.Candidate`). */
export interface NodeCandidate {
  nodeId: bigint;
  pricePerMillion: bigint;
}

export interface StackRequest extends TxInfo {
  stackId: bigint;
  /** Locked at the highest candidate price; the excess goes back to the buyer at the draw. */
  locked: bigint;
  armedAt: bigint;
  candidates: NodeCandidate[];
  /** A listed purchase (`buyStackAmong`): its node is drawn by `drawListed`. */
  listed?: boolean | undefined;
}

export interface BuyStackResult extends TxInfo {
  stackId: bigint;
  nodeId: bigint;
  pricePerMillion: bigint;
  escrow: bigint;
  expiresAt: bigint;
  /** The purchase's own transaction (the result's `hash` is the one that gave the stack its node). */
  requestHash: TxInfo["hash"];
}

/** The stack a transaction gave its node (its `StackBought` event). */
export type OpenedStack = Omit<BuyStackResult, "requestHash">;

/**
 * Sends a purchase (`functionName` of the StackManager with `args`) after approving the vault for the most it can
 * lock under `maxPricePerMillion`: the units' cost plus the verification surcharge.
 */
export async function sendPurchase(
  ctx: ChainContext,
  params: Pick<BuyStackParams, "units" | "maxPricePerMillion">,
  functionName: "buyStack" | "buyStackAmong" | "buyStackFromSet" | "buyStackFromNode",
  args: readonly unknown[],
): Promise<TransactionReceipt> {
  const [, , , , surchargeBps] = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "params",
  });
  const cost = costOfUnits(params.units, params.maxPricePerMillion);
  await ensureAllowance(ctx, ctx.addresses.AtomaVault, cost + (cost * BigInt(surchargeBps)) / 10_000n);
  return execute(ctx, { address: ctx.addresses.StackManager, abi: stackManagerAbi, functionName, args });
}

/** The `StackRequested` event of a purchase's receipt. */
export function stackRequestOf(receipt: TransactionReceipt): StackRequest {
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackRequested" }),
    "StackRequested",
  );
  return {
    ...txInfo(receipt),
    stackId: args.stackId,
    locked: args.locked,
    armedAt: args.armedAt,
    candidates: args.candidates.map(candidateOf),
  };
}

/** The stack the receipt's `StackBought` event opened, if any. */
export function openedStackOf(receipt: TransactionReceipt): OpenedStack | undefined {
  const [bought] = parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackBought" });
  if (!bought) return undefined;
  return {
    ...txInfo(receipt),
    stackId: bought.args.stackId,
    nodeId: bought.args.nodeId,
    pricePerMillion: bought.args.pricePerMillion,
    escrow: bought.args.escrow,
    expiresAt: bought.args.expiresAt,
  };
}

/** The refund of a stack the receipt's `StackCancelled` event cancelled, if any. */
export function cancelledRefundOf(receipt: TransactionReceipt): bigint | undefined {
  const [cancelled] = parseEventLogs({
    abi: stackManagerAbi,
    logs: receipt.logs,
    eventName: "StackCancelled",
  });
  return cancelled?.args.refunded;
}

/** A candidate as a plain object of its two fields (decoded events and callers may carry more, or readonly ones). */
export function candidateOf(c: NodeCandidate): NodeCandidate {
  return { nodeId: c.nodeId, pricePerMillion: c.pricePerMillion };
}

/**
 * The first step of a purchase: freezes the candidates and locks the escrow (approving the vault for the most it
 * can cost: price cap plus the verification surcharge). The node is drawn by `drawNode` in a later block.
 */
export async function requestStack(ctx: ChainContext, params: BuyStackParams): Promise<StackRequest> {
  const args = [params.taskId, params.units, params.maxPricePerMillion, params.duration];
  // The candidates as the draw's rules give them now (a free read), named to `buyStackAmong` so the purchase
  // walks no subscriber; when there are none, `buyStack` itself reverts with the reason (`NoEligibleNode`,
  // `TooFewVerifiers`).
  let candidates: NodeCandidate[];
  try {
    candidates = listedOrder(await offeredNodes(ctx, params));
  } catch (error) {
    if (!(error instanceof ContractRevertError)) throw error;
    return stackRequestOf(await sendPurchase(ctx, params, "buyStack", args));
  }
  const receipt = await sendPurchase(ctx, params, "buyStackAmong", [...args, candidates]);
  return { ...stackRequestOf(receipt), listed: true };
}

export type DrawNodeResult = TxInfo &
  (
    | {
        outcome: "drawn";
        nodeId: bigint;
        pricePerMillion: bigint;
        escrow: bigint;
        expiresAt: bigint;
      }
    /** A set purchase's set was drawn: its owner binds the stack to one member (`chooseFromSet`). */
    | { outcome: "setDrawn"; set: NodeCandidate[] }
    /**
     * A walked or set purchase's armed block hash was gone (more than 256 blocks): re-armed on this block, draw
     * again later. A listed purchase is never re-armed: it is cancelled instead.
     */
    | { outcome: "rearmed"; armedAt: bigint }
    /**
     * The drawn node could no longer serve (it is never replaced by another candidate), the draw limit passed, or
     * a listed purchase's block hash was gone (more than 256 blocks): the stack is cancelled and the owner refunded
     * in full.
     */
    | { outcome: "cancelled"; refunded: bigint }
  );

/** What a pending purchase froze: its candidates, and the size of the set to draw for a set purchase. */
export interface FrozenPurchase {
  candidates: NodeCandidate[];
  /** Absent for a purchase of one drawn node. */
  setSize?: number | undefined;
  /** A listed purchase (`buyStackAmong`), drawn by `drawListed`. */
  listed?: boolean | undefined;
}

/**
 * Draws what a pending stack waits for, in a block after its purchase; anyone may: its serving node, or for a set
 * purchase its set. `candidates` (and `setSize`) are those the purchase froze (read from its events when not
 * given).
 */
export async function drawNode(
  ctx: ChainContext,
  params: { stackId: bigint } & Partial<FrozenPurchase>,
): Promise<DrawNodeResult> {
  const frozen = params.candidates
    ? { candidates: params.candidates, setSize: params.setSize, listed: params.listed }
    : await frozenPurchaseOf(ctx, params.stackId);
  const candidates = frozen.candidates.map(candidateOf);
  const call = frozen.listed
    ? {
        functionName: "drawListed",
        args: [params.stackId, candidates, await checkersForListedDraw(ctx, params.stackId, candidates)],
      }
    : frozen.setSize === undefined
      ? { functionName: "drawNode", args: [params.stackId, candidates] }
      : { functionName: "drawSet", args: [params.stackId, candidates, frozen.setSize] };
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    ...call,
    blockTag: "pending",
  });
  const opened = openedStackOf(receipt);
  if (opened) {
    const { stackId: _, ...drawn } = opened;
    return { ...drawn, outcome: "drawn" };
  }
  const logs = receipt.logs;
  const [setDrawn] = parseEventLogs({ abi: stackManagerAbi, logs, eventName: "NodeSetDrawn" });
  if (setDrawn) return { ...txInfo(receipt), outcome: "setDrawn", set: setDrawn.args.set.map(candidateOf) };
  const [rearmed] = parseEventLogs({ abi: stackManagerAbi, logs, eventName: "NodeDrawRearmed" });
  if (rearmed) return { ...txInfo(receipt), outcome: "rearmed", armedAt: rearmed.args.armedAt };
  const refunded = cancelledRefundOf(receipt);
  if (refunded === undefined) throw new EventNotFoundError(`no draw outcome for stack ${params.stackId}`);
  return { ...txInfo(receipt), outcome: "cancelled", refunded };
}

/** The candidates a purchase froze, from its `StackRequested` event (in the purchase's block). */
export async function nodeCandidatesOf(ctx: ChainContext, stackId: bigint): Promise<NodeCandidate[]> {
  return (await frozenPurchaseOf(ctx, stackId)).candidates;
}

/**
 * What a pending purchase froze, from its `StackRequested` and, for a set purchase, `NodeSetRequested` events;
 * `EventNotFoundError` once the stack is bound or was never bought (its purchase block is not kept then).
 */
export async function frozenPurchaseOf(ctx: ChainContext, stackId: bigint): Promise<FrozenPurchase> {
  const { boughtAt, candidatesHash } = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "getPurchase",
    args: [stackId],
  });
  // A bound stack keeps no purchase block (its words hold the binding): nothing is left to draw.
  if (boughtAt === 0n)
    throw new EventNotFoundError(`stack ${stackId} is not pending: a bound stack keeps no purchase to draw`);
  const inBlock = {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    fromBlock: boughtAt,
    toBlock: boughtAt,
  };
  const [requested, sets] = await Promise.all([
    ctx.publicClient.getContractEvents({ ...inBlock, eventName: "StackRequested", args: { stackId } }),
    ctx.publicClient.getContractEvents({ ...inBlock, eventName: "NodeSetRequested", args: { stackId } }),
  ]);
  const candidates = requested.find((log) => log.args.stackId === stackId)?.args.candidates;
  if (!candidates)
    throw new EventNotFoundError(`no StackRequested event for stack ${stackId} at block ${boughtAt}`);
  const setSize = sets.find((log) => log.args.stackId === stackId)?.args.setSize;
  const frozen = candidates.map(candidateOf);
  // Listed only while its draw is pending (a bound stack's hash is cleared): `drawListed` then draws it.
  const listed = setSize === undefined && isListedHash(candidatesHash, frozen);
  return { candidates: frozen, setSize, ...(listed ? { listed } : {}) };
}

/**
 * Buys a stack in its two steps: the purchase, then the draw of its node in the next transaction (a later block,
 * since the purchase's receipt is in). Drawing again while the draw comes back re-armed.
 */
export async function buyStack(ctx: ChainContext, params: BuyStackParams): Promise<BuyStackResult> {
  const request = await requestStack(ctx, params);
  for (;;) {
    const drawn = await drawNode(ctx, {
      stackId: request.stackId,
      candidates: request.candidates,
      listed: request.listed,
    });
    if (drawn.outcome === "rearmed") continue;
    if (drawn.outcome === "cancelled") throw new StackCancelledError(request.stackId, drawn.refunded);
    if (drawn.outcome === "setDrawn") throw new UnexpectedOutcomeError(`stack ${request.stackId} drew a set`);
    const { outcome: _, ...bought } = drawn;
    return { ...bought, stackId: request.stackId, requestHash: request.hash };
  }
}

/** The owner asks the node to settle now; returns the deadline by which it must. */
export async function closeStack(
  ctx: ChainContext,
  params: { stackId: bigint },
): Promise<TxInfo & { settleDeadline: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "closeStack",
    args: [params.stackId],
  });
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackClosed" }),
    "StackClosed",
  );
  return { ...txInfo(receipt), settleDeadline: args.settleDeadline };
}
