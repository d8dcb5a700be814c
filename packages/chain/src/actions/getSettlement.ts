import { settlementManagerAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type ReadContext = Pick<ChainContext, "publicClient"> & {
  addresses: Pick<AtomaAddresses, "SettlementManager">;
};

/** A stack's settlement (phase, deadline, root, units, request count, data request flags…); phase 0 when none. */
export function getSettlement(ctx: ReadContext, stackId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "getSettlement",
    args: [stackId],
  });
}

/** A settlement's attesters (node id, commitment, whether committed, declared, opened, agreed, removed). */
export function getAttesters(ctx: ReadContext, stackId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.SettlementManager,
    abi: settlementManagerAbi,
    functionName: "attestersOf",
    args: [stackId],
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
