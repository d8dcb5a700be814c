import { disputeManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";
import type { ReadAt } from "./getSettlement.js";

type ReadContext = Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "DisputeManager"> };

/** A dispute (kind, origin, status, deadlines, sample count, draw state, outcome…); status 0 when unknown. */
export function readDispute(ctx: ReadContext, disputeId: bigint, at: ReadAt = {}) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "getDispute",
    args: [disputeId],
    ...(at.blockNumber !== undefined && { blockNumber: at.blockNumber }),
  });
}

/** A dispute's committee: each member's node id and how far it got (committed, revealed, vote, shown…). */
export function readCommittee(ctx: ReadContext, disputeId: bigint, at: ReadAt = {}) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "committeeOf",
    args: [disputeId],
    ...(at.blockNumber !== undefined && { blockNumber: at.blockNumber }),
  });
}

/**
 * The disputed requests the server posted since `fromBlock` (`EvidencePosted`), as logged: position, request
 * hash and the owner-signed request.
 */
export async function findDisputeEvidence(
  ctx: ReadContext,
  params: { disputeId: bigint; fromBlock: bigint },
) {
  const logs = await ctx.publicClient.getContractEvents({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    eventName: "EvidencePosted",
    args: { disputeId: params.disputeId },
    fromBlock: params.fromBlock,
  });
  return logs.map((log) => log.args);
}

/** The nodes a dispute's committee is drawn (or selects itself) from, parties excluded: frozen when its draw was armed. */
export function readDisputeCandidates(ctx: ReadContext, disputeId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "candidatesOf",
    args: [disputeId],
  });
}
