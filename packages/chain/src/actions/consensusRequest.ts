import { consensusRequestsAbi } from "@atoma/contracts";
import { consensusLeaf, consensusRoot, costOfUnits } from "@atoma/core";
import { type Hex, parseEventLogs } from "viem";
import { ensureAllowance } from "./approve.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

export interface SubmitConsensusRequestParams {
  taskId: bigint;
  prompt: Hex;
  n: number;
  maxUnits: bigint;
  maxPricePerMillion: bigint;
  echelon: number;
  /** Gas given to the requester's `onAtomaResult`; 0 for none. */
  callbackGas: number;
}

/** Asks n nodes for the output of a prompt (the context's account pays and receives the callback). */
export async function submitConsensusRequest(
  ctx: ChainContext,
  params: SubmitConsensusRequestParams,
): Promise<TxInfo & { requestId: bigint; nodeIds: bigint[]; commitDeadline: bigint }> {
  await ensureAllowance(
    ctx,
    ctx.addresses.AtomaVault,
    BigInt(params.n) * costOfUnits(params.maxUnits, params.maxPricePerMillion),
  );
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "submitRequest",
    args: [
      params.taskId,
      params.prompt,
      params.n,
      params.maxUnits,
      params.maxPricePerMillion,
      params.echelon,
      params.callbackGas,
    ],
  });
  const { args } = single(
    parseEventLogs({ abi: consensusRequestsAbi, logs: receipt.logs, eventName: "ConsensusRequested" }),
    "ConsensusRequested",
  );
  return {
    ...txInfo(receipt),
    requestId: args.requestId,
    nodeIds: [...args.nodeIds],
    commitDeadline: args.commitDeadline,
  };
}

export type ConsensusCommitOutcome = "waiting" | "agreed" | "disputed";

/** Node at 1-based `index` commits the root and its own leaf of `output`. */
export async function commitConsensusResult(
  ctx: ChainContext,
  params: { requestId: bigint; index: number; n: number; output: Hex; units: bigint },
): Promise<TxInfo & { outcome: ConsensusCommitOutcome }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "commitResult",
    args: [
      params.requestId,
      BigInt(params.index),
      consensusRoot(params.output, params.n),
      consensusLeaf(params.output, params.index, params.n),
      params.units,
    ],
  });
  return { ...txInfo(receipt), outcome: consensusOutcome(receipt.logs) };
}

function consensusOutcome(logs: Parameters<typeof parseEventLogs>[0]["logs"]): ConsensusCommitOutcome {
  if (parseEventLogs({ abi: consensusRequestsAbi, logs, eventName: "ConsensusReached" }).length > 0)
    return "agreed";
  if (parseEventLogs({ abi: consensusRequestsAbi, logs, eventName: "ConsensusDisputed" }).length > 0)
    return "disputed";
  return "waiting";
}

/** Delivers the agreed output; the contract pays the nodes and calls the requester back. Anyone may deliver. */
export async function deliverConsensusResult(
  ctx: ChainContext,
  params: { requestId: bigint; output: Hex },
): Promise<TxInfo & { units: bigint; paidNodes: bigint[]; callbackSucceeded: boolean | undefined }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "deliverResult",
    args: [params.requestId, params.output],
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

/** Past the commit deadline: slashes the nodes that did not commit and goes on with the others. */
export async function timeoutConsensusCommits(
  ctx: ChainContext,
  params: { requestId: bigint },
): Promise<TxInfo & { outcome: ConsensusCommitOutcome | "failed" }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "timeoutCommits",
    args: [params.requestId],
  });
  const failed =
    parseEventLogs({ abi: consensusRequestsAbi, logs: receipt.logs, eventName: "ConsensusFailed" }).length >
    0;
  return { ...txInfo(receipt), outcome: failed ? "failed" : consensusOutcome(receipt.logs) };
}

/** Past the delivery deadline: refunds the requester and slashes the nodes that held the output back. */
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
