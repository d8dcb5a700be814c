import { nodeRegistryAbi } from "@atoma/contracts";
import type { Address } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

/** The id of the node that signs with `signer`; 0n when none is registered with it. */
export function nodeIdOfSigner(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "NodeRegistry"> },
  signer: Address,
): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "nodeIdOfSigner",
    args: [signer],
  });
}
