import { disputeManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { voteCommitment } from "../commitments.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface VoteParams {
  disputeId: bigint;
  /** The committee member's node id. */
  nodeId: bigint;
  /** What the member recomputed: H(respHashes) for a settlement dispute, the consensus root for a request. */
  result: Hash;
  /** A secret the member keeps until it reveals. */
  salt: Hash;
}

/** Seals a committee member's vote. */
export async function commitDisputeVote(
  ctx: ChainContext,
  params: VoteParams,
): Promise<TxInfo & { commitment: Hash }> {
  const commitment = voteCommitment(params.disputeId, params.nodeId, params.result, params.salt);
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "commitVote",
    args: [params.disputeId, params.nodeId, commitment],
  });
  return { ...txInfo(receipt), commitment };
}

/** Opens a sealed vote, once every member committed or the commit deadline passed. */
export async function revealDisputeVote(ctx: ChainContext, params: VoteParams): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "revealVote",
    args: [params.disputeId, params.nodeId, params.result, params.salt],
  });
  return txInfo(receipt);
}
