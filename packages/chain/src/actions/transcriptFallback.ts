import { settlementManagerAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs } from "viem";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/** An attester that cannot fetch the inputs transcript says so; the server must then post the sampled requests. */
export async function declareTranscriptUnavailable(
  ctx: ChainContext,
  params: { stackId: bigint; nodeId: bigint },
): Promise<TxInfo & { dataDeadline: bigint }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "declareTranscriptUnavailable",
    args: [params.stackId, params.nodeId],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "TranscriptUnavailable" }),
    "TranscriptUnavailable",
  );
  return { ...txInfo(receipt), dataDeadline: args.dataDeadline };
}

/** One owner-signed request of the transcript: its canonical JSON bytes, and the EIP-712 fields signed. */
export interface PostedRequest {
  body: Hex;
  nonce: bigint;
  deadline: bigint;
  signature: Hex;
}

/** The server posts the sampled requests, in the order of the sampled indices, as calldata. */
export async function postSampledRequests(
  ctx: ChainContext,
  params: { stackId: bigint; requests: readonly PostedRequest[] },
): Promise<TxInfo & { reqHashes: readonly Hex[] }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "postSampledRequests",
    args: [params.stackId, params.requests],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SampledRequestsPosted" }),
    "SampledRequestsPosted",
  );
  return { ...txInfo(receipt), reqHashes: args.reqHashes };
}
