import { consensusRequestsAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type ReadContext = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, "ConsensusRequests">;
};

/** A consensus request (status, n, task, unit budget, prompt hash, deadlines…); status 0 when unknown. */
export function readConsensusRequest(ctx: ReadContext, requestId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "getRequest",
    args: [requestId],
  });
}

/** The ConsensusRequests' cap on the bytes of a delivered output. */
export async function readMaxOutputBytes(ctx: ReadContext): Promise<number> {
  const params = await ctx.publicClient.readContract({
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "params",
  });
  return Number(params[4]);
}

/**
 * A request's prompt as its `ConsensusRequested` log since `fromBlock` holds it (the contract stores only its
 * hash); undefined when no such log is found.
 */
export async function findConsensusPrompt(
  ctx: ReadContext,
  params: { requestId: bigint; fromBlock: bigint },
): Promise<Hex | undefined> {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ConsensusRequested",
    args: { requestId: params.requestId },
    fromBlock: params.fromBlock,
    strict: true,
  });
  return logs[0]?.args.prompt;
}
