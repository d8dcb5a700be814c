import { disputeManagerAbi, nodeRegistryAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import { parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface ResolveDisputeResult extends TxInfo {
  /** Whether a claim won a strict majority of the shown votes. */
  decided: boolean;
  winner: Hash | undefined;
  /** DisputeManager.Outcome (see `DisputeOutcome`). */
  outcome: number;
  /** Nodes slashed for fraud in this transaction. */
  slashed: bigint[];
}

/**
 * Ends a dispute (anyone may call) once its vote is over, or before the vote once the server missed its evidence
 * deadline or no committee could be drawn; slashes the losers.
 */
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
  const resolved = single(
    parseEventLogs({ abi: disputeManagerAbi, logs: receipt.logs, eventName: "DisputeResolved" }),
    "DisputeResolved",
  );
  const { decided, winner, outcome } = resolved.args;
  return { ...txInfo(receipt), decided, winner: decided ? winner : undefined, outcome, slashed };
}
