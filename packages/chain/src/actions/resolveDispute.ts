import { disputeManagerAbi, nodeRegistryAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

export interface ResolveDisputeResult extends TxInfo {
  /** Whether a result won a strict majority (challenges: always). */
  decided: boolean;
  winner: Hash | undefined;
  /** Nodes slashed for fraud in this transaction. */
  slashed: bigint[];
}

/** Ends a dispute when all votes are in or its deadline has passed, slashing the losers. Anyone may call. */
export async function resolveDispute(
  ctx: ChainContext,
  params: { disputeId: bigint },
): Promise<ResolveDisputeResult> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "resolve",
    args: [params.disputeId],
  });
  const slashed = parseEventLogs({ abi: nodeRegistryAbi, logs: receipt.logs, eventName: "NodeSlashed" })
    .filter((e) => e.args.fraud)
    .map((e) => e.args.nodeId);
  const [resolved] = parseEventLogs({
    abi: disputeManagerAbi,
    logs: receipt.logs,
    eventName: "DisputeResolved",
  });
  if (resolved) {
    return { ...txInfo(receipt), decided: resolved.args.decided, winner: resolved.args.winner, slashed };
  }
  return { ...txInfo(receipt), decided: true, winner: undefined, slashed };
}
