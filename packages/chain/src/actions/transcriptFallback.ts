import { settlementEvidenceAbi, settlementManagerAbi } from "@atoma/contracts";
import { type Hex, parseEventLogs } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute, single } from "./execute.js";

/**
 * An attester that cannot fetch the inputs transcript says so; the server must then post the sampled requests.
 * The declaration is bonded with the attester's share of the surcharge, lost if the server posts them.
 */
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
  /** The unit bound the owner signed with the request. */
  maxUnits: bigint;
  signature: Hex;
}

/** The server posts the sampled request at `position` (in the order of the sampled indices), in its own transaction. */
export async function postSampledRequest(
  ctx: ChainContext,
  params: { stackId: bigint; position: number; request: PostedRequest },
): Promise<TxInfo & { reqHash: Hex; complete: boolean }> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.SettlementEvidence,
    abi: settlementEvidenceAbi,
    functionName: "postSampledRequest",
    args: [params.stackId, BigInt(params.position), params.request],
  });
  const { args } = single(
    parseEventLogs({ abi: settlementEvidenceAbi, logs: receipt.logs, eventName: "SampledRequestPosted" }),
    "SampledRequestPosted",
  );
  const complete =
    parseEventLogs({ abi: settlementManagerAbi, logs: receipt.logs, eventName: "SampledRequestsPosted" })
      .length > 0;
  return { ...txInfo(receipt), reqHash: args.reqHash, complete };
}

/**
 * The server posts every sampled request not posted yet, one transaction each, in the order of the sampled
 * indices. Returns the transactions sent.
 */
export async function postSampledRequests(
  ctx: ChainContext,
  params: { stackId: bigint; requests: readonly PostedRequest[] },
): Promise<TxInfo[]> {
  const sent: TxInfo[] = [];
  for (const [position, request] of params.requests.entries()) {
    const posted = await ctx.publicClient.readContract({
      address: ctx.addresses.SettlementEvidence,
      abi: settlementEvidenceAbi,
      functionName: "postedRequest",
      args: [params.stackId, BigInt(position)],
    });
    if (BigInt(posted) !== 0n) continue;
    sent.push(await postSampledRequest(ctx, { stackId: params.stackId, position, request }));
  }
  return sent;
}

/** The longest request body a node accepts and a server may have to post (`SettlementEvidence.maxRequestBytes`). */
export async function readMaxRequestBytes(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "SettlementEvidence"> },
): Promise<number> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementEvidence,
    abi: settlementEvidenceAbi,
    functionName: "maxRequestBytes",
  });
}
