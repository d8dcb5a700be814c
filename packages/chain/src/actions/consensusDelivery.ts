import { consensusRequestsAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/**
 * Delivers the agreed output and unit count; the contract checks them against the agreed root, pays the seats for
 * those units and calls the requester back. Anyone may deliver.
 */
export async function deliverConsensusResult(
  ctx: ChainContext,
  params: { requestId: bigint; output: Hex; units: bigint },
): Promise<TxInfo & { units: bigint; paidNodes: bigint[]; callbackSucceeded: boolean | undefined }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "deliverResult",
    args: [params.requestId, params.output, params.units],
  });
  const { args } = single(
    parseEventLogs({ abi: consensusRequestsAbi, logs: receipt.logs, eventName: "ResultDelivered" }),
    "ResultDelivered",
  );
  const [callback] = parseEventLogs({
    abi: consensusRequestsAbi,
    logs: receipt.logs,
    eventName: "CallbackResult",
  });
  return {
    ...txInfo(receipt),
    units: args.units,
    paidNodes: [...args.paidNodes],
    callbackSucceeded: callback?.args.success,
  };
}

/** Past the delivery deadline: refunds the requester and slashes the seats that held the output back. */
export async function timeoutConsensusDelivery(
  ctx: ChainContext,
  params: { requestId: bigint },
): Promise<TxInfo & { refunded: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "timeoutDelivery",
    args: [params.requestId],
  });
  const { args } = single(
    parseEventLogs({ abi: consensusRequestsAbi, logs: receipt.logs, eventName: "ConsensusFailed" }),
    "ConsensusFailed",
  );
  return { ...txInfo(receipt), refunded: args.refunded };
}
