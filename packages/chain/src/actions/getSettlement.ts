import { settlementManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type ReadContext = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, "SettlementManager">;
};

/** Where a read is made: the latest block unless `blockNumber` pins it (reads that must agree share one). */
export type ReadAt = { blockNumber?: bigint | undefined };

/** A stack's settlement (phase, deadline, root, units, request count, data request flags…); phase 0 when none. */
export function getSettlement(ctx: ReadContext, stackId: bigint, at: ReadAt = {}) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "getSettlement",
    args: [stackId],
    ...(at.blockNumber !== undefined && { blockNumber: at.blockNumber }),
  });
}

/** A settlement's attesters (node id, commitment, whether committed, declared, opened, agreed, removed). */
export function getAttesters(ctx: ReadContext, stackId: bigint, at: ReadAt = {}) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "attestersOf",
    args: [stackId],
    ...(at.blockNumber !== undefined && { blockNumber: at.blockNumber }),
  });
}

/** The request indices a settlement's attesters were given to recompute, in sampled order. */
export function getSampledIndices(ctx: ReadContext, stackId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "sampledIndices",
    args: [stackId],
  });
}
