import { modelRegistryAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

/** A model's registration (owner, weights root, status, fee share, …); status 0 when unknown. */
export function getModel(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "ModelRegistry"> },
  modelId: Hex,
) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: "getModel",
    args: [modelId],
  });
}
