import { type Address, getAddress } from "viem";
import { ConfigError } from "../errors.js";

/** The contracts the settlement worker calls or follows; each must be in `chain.contracts`. */
const REQUIRED = [
  "NodeRegistry",
  "AtomaVault",
  "StackManager",
  "SettlementManager",
  "SettlementDraw",
  "SettlementEvidence",
  "DisputeManager",
  "ChallengeManager",
] as const;
type SettlementContract = (typeof REQUIRED)[number];

/**
 * The addresses of the contracts the settlement worker needs, or undefined when `chain.contracts` names none of
 * them (a node not yet pointed at a deployment has nothing to settle). Throws `ConfigError` naming the first one
 * missing when only some are.
 */
export function settlementAddresses(
  contracts: Record<string, string>,
): Record<SettlementContract, Address> | undefined {
  if (REQUIRED.every((name) => !contracts[name])) return undefined;
  const missing = REQUIRED.find((name) => !contracts[name]);
  if (missing) throw new ConfigError(`chain.contracts.${missing} is required by the settlement worker`);
  return Object.fromEntries(REQUIRED.map((name) => [name, getAddress(contracts[name]!)])) as Record<
    SettlementContract,
    Address
  >;
}
