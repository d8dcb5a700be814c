import { stackManagerAbi } from "@atoma/contracts";
import { costOfUnits } from "@atoma/core";
import { parseEventLogs } from "viem";
import { EventNotFoundError, StackCancelledError } from "../errors.js";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

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
}

export interface BuyStackResult extends TxInfo {
  stackId: bigint;
  nodeId: bigint;
  pricePerMillion: bigint;
  escrow: bigint;
  expiresAt: bigint;
  /** The purchase's own transaction (the result's `hash` is the draw's). */
  requestHash: TxInfo["hash"];
}

/**
 * The first step of a purchase: freezes the candidates and locks the escrow (approving the vault for the most it
 * can cost: price cap plus the verification surcharge). The node is drawn by `drawNode` in a later block.
 */
export async function requestStack(ctx: ChainContext, params: BuyStackParams): Promise<StackRequest> {
  const [, , , , surchargeBps] = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "params",
  });
  const cost = costOfUnits(params.units, params.maxPricePerMillion);
  await ensureAllowance(ctx, ctx.addresses.AtomaVault, cost + (cost * BigInt(surchargeBps)) / 10_000n);
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "buyStack",
    args: [params.taskId, params.units, params.maxPricePerMillion, params.duration],
  });
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs: receipt.logs, eventName: "StackRequested" }),
    "StackRequested",
  );
  return {
    ...txInfo(receipt),
    stackId: args.stackId,
    locked: args.locked,
    armedAt: args.armedAt,
    candidates: args.candidates.map((c) => ({ nodeId: c.nodeId, pricePerMillion: c.pricePerMillion })),
  };
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
    /** The purchase block's hash was gone (more than 256 blocks): re-armed on this block, draw again later. */
    | { outcome: "rearmed"; armedAt: bigint }
    /** No frozen candidate could serve any more: the stack is cancelled and the owner refunded. */
    | { outcome: "cancelled"; refunded: bigint }
  );

/**
 * Draws the serving node of a pending stack, in a block after its purchase; anyone may. `candidates` are those
 * the purchase froze (read from its `StackRequested` event when not given).
 */
export async function drawNode(
  ctx: ChainContext,
  params: { stackId: bigint; candidates?: readonly NodeCandidate[] | undefined },
): Promise<DrawNodeResult> {
  const candidates = params.candidates ?? (await nodeCandidatesOf(ctx, params.stackId));
  const receipt = await execute(ctx, {
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "drawNode",
    args: [params.stackId, candidates.map((c) => ({ ...c }))],
    blockTag: "pending",
  });
  const logs = receipt.logs;
  const [bought] = parseEventLogs({ abi: stackManagerAbi, logs, eventName: "StackBought" });
  if (bought)
    return {
      ...txInfo(receipt),
      outcome: "drawn",
      nodeId: bought.args.nodeId,
      pricePerMillion: bought.args.pricePerMillion,
      escrow: bought.args.escrow,
      expiresAt: bought.args.expiresAt,
    };
  const [rearmed] = parseEventLogs({ abi: stackManagerAbi, logs, eventName: "NodeDrawRearmed" });
  if (rearmed) return { ...txInfo(receipt), outcome: "rearmed", armedAt: rearmed.args.armedAt };
  const { args } = single(
    parseEventLogs({ abi: stackManagerAbi, logs, eventName: "StackCancelled" }),
    "StackCancelled",
  );
  return { ...txInfo(receipt), outcome: "cancelled", refunded: args.refunded };
}

/** The candidates a purchase froze, from its `StackRequested` event (in the purchase's block). */
export async function nodeCandidatesOf(ctx: ChainContext, stackId: bigint): Promise<NodeCandidate[]> {
  const { boughtAt } = await ctx.publicClient.readContract({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    functionName: "getPurchase",
    args: [stackId],
  });
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.StackManager,
    abi: stackManagerAbi,
    eventName: "StackRequested",
    args: { stackId },
    fromBlock: boughtAt,
    toBlock: boughtAt,
  });
  const candidates = logs.find((log) => log.args.stackId === stackId)?.args.candidates;
  if (!candidates)
    throw new EventNotFoundError(`no StackRequested event for stack ${stackId} at block ${boughtAt}`);
  return candidates.map((c) => ({ nodeId: c.nodeId, pricePerMillion: c.pricePerMillion }));
}

/**
 * Buys a stack in its two steps: the purchase, then the draw of its node in the next transaction (a later block,
 * since the purchase's receipt is in). Drawing again while the draw comes back re-armed.
 */
export async function buyStack(ctx: ChainContext, params: BuyStackParams): Promise<BuyStackResult> {
  const request = await requestStack(ctx, params);
  for (;;) {
    const drawn = await drawNode(ctx, { stackId: request.stackId, candidates: request.candidates });
    if (drawn.outcome === "rearmed") continue;
    if (drawn.outcome === "cancelled") throw new StackCancelledError(request.stackId, drawn.refunded);
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
