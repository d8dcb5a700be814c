import { atomaVaultAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

/**
 * The vault's fee epoch, now or at `blockNumber` (a payout's block: the epoch its fee was credited to, which must
 * have ended before it can be claimed).
 */
export function feeEpoch(
  ctx: Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "AtomaVault"> },
  blockNumber?: bigint,
): Promise<bigint> {
  return ctx.publicClient.readContract({
    address: ctx.addresses.AtomaVault,
    abi: atomaVaultAbi,
    functionName: "currentEpoch",
    ...(blockNumber === undefined ? {} : { blockNumber }),
  });
}
