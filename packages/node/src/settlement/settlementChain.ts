import {
  type AtomaAddresses,
  type AtomaContracts,
  type AtomaWalletClient,
  atomaContracts,
  type ChainContext,
  chainFor,
} from "@atoma/chain";
import { type Address, createWalletClient, getAddress, http, zeroAddress } from "viem";
import { ConfigError } from "../errors.js";
import type { NodeContext } from "../service/nodePart.js";
import { chainWithFeeCaps } from "./feeCaps.js";

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

/** How the worker reaches the chain: the actions' context (sending from the node's key) and typed reads. */
export interface SettlementChain {
  actions: ChainContext;
  contracts: AtomaContracts;
}

/**
 * The deployment's addresses from `chain.contracts` (the ones the worker never calls may be absent), or undefined
 * when none of those it needs is configured (a node not yet pointed at a deployment has nothing to settle).
 * Throws `ConfigError` naming the first one missing when only some are.
 */
export function settlementAddresses(contracts: Record<string, string>): AtomaAddresses | undefined {
  if (REQUIRED.every((name) => !contracts[name])) return undefined;
  for (const name of REQUIRED)
    if (!contracts[name])
      throw new ConfigError(`chain.contracts.${name} is required by the settlement worker`);
  const at = (name: keyof AtomaAddresses): Address => getAddress(contracts[name] ?? zeroAddress);
  return {
    AtomaToken: at("AtomaToken"),
    NodeRegistry: at("NodeRegistry"),
    ModelRegistry: at("ModelRegistry"),
    TaskRegistry: at("TaskRegistry"),
    AtomaVault: at("AtomaVault"),
    StackManager: at("StackManager"),
    SettlementManager: at("SettlementManager"),
    SettlementDraw: at("SettlementDraw"),
    SettlementEvidence: at("SettlementEvidence"),
    DisputeManager: at("DisputeManager"),
    ChallengeManager: at("ChallengeManager"),
    ConsensusRequests: at("ConsensusRequests"),
    EmissionSchedule: at("EmissionSchedule"),
    ReceiptFraud: at("ReceiptFraud"),
  };
}

/**
 * The worker's chain access, sending from the node's key within `settlement.maxFeePerGas` and
 * `settlement.maxPriorityFeePerGas`; undefined when no deployment is configured.
 */
export function connectSettlementChain(context: NodeContext): SettlementChain | undefined {
  const { config, account, chain } = context;
  const addresses = settlementAddresses(config.chain.contracts);
  if (!addresses) return undefined;
  const walletClient: AtomaWalletClient = createWalletClient({
    account,
    chain: chainWithFeeCaps(chainFor(config.chain.chainId, config.chain.rpcUrl), config.settlement),
    transport: http(config.chain.rpcUrl),
    pollingInterval: Math.min(config.chain.pollingIntervalMs, 1_000),
    cacheTime: 0,
  });
  const contracts = atomaContracts(addresses, chain, walletClient);
  return { actions: { publicClient: chain, walletClient, addresses }, contracts };
}

/** This node's on-chain id by its signing address, or undefined while it is not registered. */
export async function readNodeId(chain: SettlementChain): Promise<bigint | undefined> {
  const id = await chain.contracts.nodeRegistry.read.nodeIdOfSigner([
    chain.actions.walletClient.account.address,
  ]);
  return id === 0n ? undefined : id;
}

/** The chain's clock: deadlines and windows are in block time, which tests and dev chains move at will. */
export async function chainNow(chain: ChainContext["publicClient"]): Promise<bigint> {
  return (await chain.getBlock({ blockTag: "latest" })).timestamp;
}
