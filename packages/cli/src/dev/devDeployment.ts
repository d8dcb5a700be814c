import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AtomaAddresses } from "@atoma/chain";

const FILE = "deployment.json";

/** Addresses saved beside a persistent dev chain's state (the dev network reuses them while their code is there). */
export function savedDeployment(stateDir: string | undefined): AtomaAddresses | undefined {
  if (stateDir === undefined || !existsSync(join(stateDir, FILE))) return undefined;
  return JSON.parse(readFileSync(join(stateDir, FILE), "utf8")) as AtomaAddresses;
}

export function saveDeployment(stateDir: string | undefined, addresses: AtomaAddresses): void {
  if (stateDir !== undefined) writeFileSync(join(stateDir, FILE), `${JSON.stringify(addresses, null, 2)}\n`);
}
