import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AtomaAddresses, AtomaPublicClient } from "@atoma/chain";

const FILE = "deployment.json";

/** Addresses saved beside a persistent dev chain's state, reused while their code is still there. */
export async function loadDeployment(
  stateDir: string | undefined,
  publicClient: AtomaPublicClient,
): Promise<AtomaAddresses | undefined> {
  if (stateDir === undefined || !existsSync(join(stateDir, FILE))) return undefined;
  const saved = JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as AtomaAddresses;
  for (const address of Object.values(saved)) {
    const code = await publicClient.getCode({ address });
    if (!code || code === "0x") return undefined;
  }
  return saved;
}

export function saveDeployment(stateDir: string | undefined, addresses: AtomaAddresses): void {
  if (stateDir !== undefined) writeFileSync(join(stateDir, FILE), `${JSON.stringify(addresses, null, 2)}\n`);
}
