import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AtomaAddresses } from "@atoma/chain";

const FILE = "deployment.json";

/** A deployment saved beside a persistent dev chain's state: its addresses and the block it was deployed from. */
export interface SavedDeployment {
  addresses: AtomaAddresses;
  /** Undefined in a file saved before the block was (its logs are then read from block 0). */
  deploymentBlock: bigint | undefined;
}

/**
 * The deployment saved beside a persistent dev chain's state (the dev network reuses it while its code is there):
 * the addresses, and `deploymentBlock` beside them.
 */
export function savedDeployment(stateDir: string | undefined): SavedDeployment | undefined {
  if (stateDir === undefined || !existsSync(join(stateDir, FILE))) return undefined;
  const { deploymentBlock, ...addresses } = JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as Record<
    string,
    unknown
  >;
  const block =
    typeof deploymentBlock === "number" && Number.isSafeInteger(deploymentBlock) && deploymentBlock >= 0
      ? BigInt(deploymentBlock)
      : undefined;
  return { addresses: addresses as unknown as AtomaAddresses, deploymentBlock: block };
}

export function saveDeployment(
  stateDir: string | undefined,
  addresses: AtomaAddresses,
  deploymentBlock: bigint | undefined,
): void {
  if (stateDir === undefined) return;
  const saved = {
    ...addresses,
    ...(deploymentBlock !== undefined && { deploymentBlock: Number(deploymentBlock) }),
  };
  writeFileSync(join(stateDir, FILE), `${JSON.stringify(saved, null, 2)}\n`);
}
