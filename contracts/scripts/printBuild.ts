import { REGENERATE_COMMAND } from "./artifactsManifest.js";
import type { BuildContractsResult } from "./buildContracts.js";

/** Prints what a contracts build did that the developer must act on; false when it failed. */
export function printBuild(result: BuildContractsResult): boolean {
  if (result.action === "failed") {
    console.error(result.diagnostics.join("\n"));
    return false;
  }
  if (result.action !== "compiled") return true;
  // solc warns about every use of transient storage; OpenZeppelin's ReentrancyGuardTransient clears its slot at
  // the end of each guarded call, the use the warning itself names as safe.
  for (const warning of result.warnings.filter(
    (w) => !w.includes("Transient storage as defined by EIP-1153"),
  ))
    console.error(`warning: ${warning}`);
  console.error(
    `contracts: compiled ${result.contracts} contracts with solc ${result.solc} in ${result.seconds.toFixed(1)} s; ` +
      `contracts/artifacts changed: commit it with the Solidity sources (${REGENERATE_COMMAND} regenerates it)`,
  );
  return true;
}
