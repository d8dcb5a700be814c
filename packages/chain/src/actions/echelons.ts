import { nodeRegistryAbi } from "@atoma/contracts";
import type { Hex } from "viem";
import type { AtomaAddresses } from "../deploy.js";
import { type ChainContext, type TxInfo, txInfo } from "./context.js";
import { execute } from "./execute.js";

type ReadContext = Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "NodeRegistry"> };

const NONE = /^0x0{64}$/i;

/** The engine fingerprint approved for `echelon`, or undefined when the echelon is not approved. */
export async function echelonFingerprint(ctx: ReadContext, echelon: number): Promise<Hex | undefined> {
  const fingerprint = await ctx.publicClient.readContract({
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "echelonFingerprint",
    args: [echelon],
  });
  return NONE.test(fingerprint) ? undefined : fingerprint;
}

/** Governance: approves `echelon` for nodes computing `fingerprint` (or moves it to another fingerprint). */
export async function approveEchelon(
  ctx: ChainContext,
  params: { echelon: number; fingerprint: Hex },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "approveEchelon",
    args: [params.echelon, params.fingerprint],
  });
  return txInfo(receipt);
}

/** Governance: no node registers in, or is eligible in, `echelon` any more. */
export async function revokeEchelon(ctx: ChainContext, params: { echelon: number }): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "revokeEchelon",
    args: [params.echelon],
  });
  return txInfo(receipt);
}

/** Moves an idle node (nothing pending) to another approved echelon, keeping its reputation. */
export async function setNodeEchelon(
  ctx: ChainContext,
  params: { nodeId: bigint; echelon: number },
): Promise<TxInfo> {
  const receipt = await execute(ctx, {
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "setEchelon",
    args: [params.nodeId, params.echelon],
  });
  return txInfo(receipt);
}

/** The fingerprint approved for the echelon node `nodeId` is in, or undefined when that echelon is not approved. */
export async function nodeEchelonFingerprint(ctx: ReadContext, nodeId: bigint): Promise<Hex | undefined> {
  const fingerprint = await ctx.publicClient.readContract({
    address: ctx.addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "fingerprintOf",
    args: [nodeId],
  });
  return NONE.test(fingerprint) ? undefined : fingerprint;
}
