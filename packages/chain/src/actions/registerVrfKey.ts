import { vrfKeyRegistryAbi } from "@atoma/contracts";
import { vrfPublicKey } from "@atoma/core";
import type { Address, Hex } from "viem";
import { VrfNotDeployedError } from "../errors.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";
import { vrfPossessionArgs } from "./vrfProofArgs.js";

/** The VRF key registry of the deployment, or `VrfNotDeployedError` when private selection is off. */
export function vrfKeyRegistryOf(ctx: Pick<ChainContext, "addresses">): Address {
  const address = ctx.addresses.VrfKeyRegistry;
  if (!address)
    throw new VrfNotDeployedError("this deployment has no VrfKeyRegistry (private selection is off)");
  return address;
}

/** Node `nodeId`'s registered VRF key (affine), or undefined when it has none. */
export async function getVrfKey(
  ctx: Pick<ChainContext, "publicClient" | "addresses">,
  nodeId: bigint,
): Promise<readonly [bigint, bigint] | undefined> {
  const key = await ctx.publicClient
    .readContract({
      address: vrfKeyRegistryOf(ctx),
      abi: vrfKeyRegistryAbi,
      functionName: "vrfKeyOf",
      args: [nodeId],
    })
    .catch(() => undefined);
  return key;
}

/**
 * Registers the VRF key of node `nodeId` (the operator's wallet sends it), proving possession of `secretKey`. A key
 * is set once; returns undefined without sending when the node already has this key.
 */
export async function registerVrfKey(
  ctx: ChainContext,
  params: { nodeId: bigint; secretKey: Hex },
): Promise<(TxInfo & { publicKey: Hex }) | undefined> {
  const publicKey = vrfPublicKey(params.secretKey);
  if (await getVrfKey(ctx, params.nodeId)) return undefined;
  const registry = vrfKeyRegistryOf(ctx);
  const args = vrfPossessionArgs(params.secretKey, params.nodeId, {
    chainId: await ctx.publicClient.getChainId(),
    registry,
  });
  const receipt = await execute(ctx, {
    address: registry,
    abi: vrfKeyRegistryAbi,
    functionName: "registerVrfKey",
    args: [params.nodeId, publicKey, args.proof, args.hints],
  });
  return { ...txInfo(receipt), publicKey };
}
