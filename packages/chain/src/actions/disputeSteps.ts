import { DisputeStatus, disputeManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { hexToBytes, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { readCommittee, readDispute } from "./disputeReads.js";
import { batchesWithin, readMaxEvidenceBytes } from "./evidenceBatches.js";
import { execute } from "./execute.js";
import { latestBlock } from "./latestBlock.js";
import { resolveDispute } from "./resolveDispute.js";
import type { PostedRequest } from "./transcriptFallback.js";

/**
 * The server posts the disputed requests — owner-signed, in the order of the sampled indices, each with its leaf's
 * index as nonce — with the request hashes of the leaves it revealed (in the same order); resumes after what is already posted and splits the rest to fit
 * the contract's `maxEvidenceBytes`. Returns the transactions sent (none when all was posted).
 */
export async function postDisputeEvidence(
  ctx: ChainContext,
  params: {
    disputeId: bigint;
    requests: readonly PostedRequest[];
    reqHashes: readonly Hash[];
  },
): Promise<TxInfo[]> {
  const dispute = await readDispute(ctx, params.disputeId);
  if (dispute.evidenceCount >= dispute.sampleCount) return [];
  const maxBytes = await readMaxEvidenceBytes(ctx);
  const sizes = params.requests.map((r) => hexToBytes(r.body).length);
  const sent: TxInfo[] = [];
  for (const [from, to] of batchesWithin(sizes, dispute.evidenceCount, maxBytes)) {
    const receipt = await execute(ctx, {
      address: ctx.addresses.DisputeManager,
      abi: disputeManagerAbi,
      functionName: "postEvidence",
      args: [params.disputeId, BigInt(from), params.requests.slice(from, to), params.reqHashes],
    });
    sent.push(txInfo(receipt));
  }
  return sent;
}

export type DrawResult = TxInfo &
  (
    | { outcome: "drawn"; committee: bigint[]; voteOpened: boolean }
    | { outcome: "armed"; drawBlock: bigint }
    | { outcome: "failed"; round: number; nextDrawAfter: bigint; ended: boolean }
  );

/**
 * Draws the committee (anyone may), from the second block after the armed one: or only arms the draw when a round is
 * due or its seed expired unread (once; a second expiry fails the round, `DisputeDraw`).
 */
export async function drawCommittee(ctx: ChainContext, params: { disputeId: bigint }): Promise<DrawResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "drawCommittee",
    args: [params.disputeId],
  });
  const logs = receipt.logs;
  const [drawn] = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "CommitteeDrawn" });
  if (drawn) {
    const opened = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "DisputeOpened" });
    return {
      ...txInfo(receipt),
      outcome: "drawn",
      committee: [...drawn.args.committee],
      voteOpened: opened.length > 0,
    };
  }
  const [failed] = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "DrawFailed" });
  if (failed) {
    const ended = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "DisputeResolved" }).length > 0;
    return {
      ...txInfo(receipt),
      outcome: "failed",
      round: failed.args.round,
      nextDrawAfter: failed.args.nextDrawAfter,
      ended,
    };
  }
  const [armed] = parseEventLogs({ abi: disputeManagerAbi, logs, eventName: "DrawArmed" });
  return { ...txInfo(receipt), outcome: "armed", drawBlock: armed?.args.drawBlock ?? 0n };
}

/** What `advanceDispute` did. */
export type DisputeStep =
  | "drawn"
  | "armed"
  | "draw-failed"
  | "resolved"
  | "waiting"
  | "awaiting-block"
  | "closed";

/**
 * Moves a dispute on as any party may, from what the chain says now: draws (or arms) its committee once the
 * seeding block is mined or a new round is due, and resolves it once its evidence deadline passed without the
 * evidence, no committee could be drawn, or its vote is over. Does nothing (`waiting`) otherwise, or
 * `awaiting-block` when the draw only waits for a block after its seed block to be mined.
 */
export async function advanceDispute(ctx: ChainContext, params: { disputeId: bigint }): Promise<DisputeStep> {
  const { disputeId } = params;
  const [dispute, block, rounds] = await Promise.all([
    readDispute(ctx, disputeId),
    latestBlock(ctx),
    readDrawRounds(ctx),
  ]);
  if (dispute.status !== DisputeStatus.Open) return "closed";
  const now = block.timestamp;
  const evidenceComplete = dispute.evidenceCount >= dispute.sampleCount;
  if (dispute.commitDeadline === 0n) {
    if (!evidenceComplete && now > dispute.evidenceDeadline) return resolved(ctx, disputeId);
    const roundsLeft = dispute.drawRound < rounds;
    if (!dispute.drawn && !roundsLeft) return evidenceComplete ? resolved(ctx, disputeId) : "waiting";
    if (dispute.drawn) return "waiting";
    // The draw reads the hash of the block after its arming block (the seed block), so it must run after that one
    // (and `eth_call` simulates it in the latest block).
    if (dispute.drawBlock !== 0n && block.number <= dispute.drawBlock + 1n) return "awaiting-block";
    if (dispute.drawBlock === 0n && now < dispute.drawNotBefore) return "waiting";
    const drawn = await drawCommittee(ctx, { disputeId });
    return drawn.outcome === "failed" ? "draw-failed" : drawn.outcome;
  }
  if (now > dispute.revealDeadline) return resolved(ctx, disputeId);
  const committee = await readCommittee(ctx, disputeId);
  return committee.every((m) => m.substantiated) ? resolved(ctx, disputeId) : "waiting";
}

async function resolved(ctx: ChainContext, disputeId: bigint): Promise<DisputeStep> {
  await resolveDispute(ctx, { disputeId });
  return "resolved";
}

async function readDrawRounds(ctx: ChainContext): Promise<number> {
  const params = await ctx.publicClient.readContract({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "params",
  });
  return params[2];
}
