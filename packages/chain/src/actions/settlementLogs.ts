import { settlementEvidenceAbi, settlementManagerAbi } from "@atoma/contracts";
import type { Hash } from "@atoma/core";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type LogContext<Name extends keyof AtomaAddresses> = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, Name>;
};

/**
 * A stack's last `SettlementSubmitted` between the blocks: its serving node and inputs transcript's blob id (the
 * contract keeps neither in storage); undefined when there is none there.
 */
export async function findSettlementSubmission(
  ctx: LogContext<"SettlementManager">,
  params: { stackId: bigint; fromBlock: bigint; toBlock: bigint },
): Promise<{ nodeId: bigint; transcriptId: Hash } | undefined> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    eventName: "SettlementSubmitted",
    args: { stackId: params.stackId },
    fromBlock: params.fromBlock,
    toBlock: params.toBlock,
  });
  const last = logs.at(-1);
  if (!last) return undefined;
  return { nodeId: last.args.nodeId!, transcriptId: last.args.transcriptId! };
}

/** The dispute last opened on a stack's settlement since `fromBlock` (`SettlementDisputed`); undefined when none. */
export async function findSettlementDispute(
  ctx: LogContext<"SettlementManager">,
  params: { stackId: bigint; fromBlock: bigint },
): Promise<bigint | undefined> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    eventName: "SettlementDisputed",
    args: { stackId: params.stackId },
    fromBlock: params.fromBlock,
  });
  return logs.at(-1)?.args.disputeId;
}

/**
 * The sampled requests a server posted since `fromBlock` after its transcript was declared unavailable
 * (`SampledRequestPosted`, one per position), as logged: position, request hash and the owner-signed request.
 */
export async function findPostedSampledRequests(
  ctx: LogContext<"SettlementEvidence">,
  params: { stackId: bigint; fromBlock: bigint },
) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.SettlementEvidence,
    abi: settlementEvidenceAbi,
    eventName: "SampledRequestPosted",
    args: { stackId: params.stackId },
    fromBlock: params.fromBlock,
  });
  return logs.map((log) => log.args);
}
