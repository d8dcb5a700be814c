import { nodeRegistryAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

/** A node's registration (operator, signer, URL, echelon, collateral, status, reputation); status 0 when unknown. */
export function getNode(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "NodeRegistry"> },
  nodeId: bigint,
) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "getNode",
    args: [nodeId],
  });
}
