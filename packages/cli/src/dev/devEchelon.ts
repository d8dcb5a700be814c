import { approveEchelon, echelonFingerprint } from "@atoma/chain";
import type { Devnet } from "@atoma/chain/devnet";
import type { Logger } from "@atoma/core";
import type { Hex } from "viem";

/** The echelon dev nodes register in. */
export const DEV_ECHELON = 1;

/**
 * Approves the dev echelon for the fingerprint the dev engine measured on this machine (again on a kept chain
 * when llama.cpp or its settings changed since), so dev nodes, and nodes started with `atoma node start` on the
 * same machine and settings, pass their echelon check. No other echelon is approved: registering in one fails.
 */
export async function ensureDevEchelon(
  chain: Pick<Devnet, "admin">,
  fingerprint: Hex,
  logger: Logger,
): Promise<void> {
  const approved = await echelonFingerprint(chain.admin, DEV_ECHELON);
  if (approved?.toLowerCase() === fingerprint.toLowerCase()) return;
  await approveEchelon(chain.admin, { echelon: DEV_ECHELON, fingerprint });
  logger.info({ echelon: DEV_ECHELON, fingerprint, previous: approved ?? null }, "dev echelon approved");
}
