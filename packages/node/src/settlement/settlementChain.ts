import {
  type AtomaAddresses,
  type AtomaContracts,
  atomaContracts,
  type ChainContext,
  createAtomaWalletClient,
} from "@atoma/chain";
import { type Address, getAddress, zeroAddress } from "viem";
import { ConfigError } from "../errors.js";
import type { NodeContext } from "../service/nodePart.js";

/** The contracts the settlement worker calls or follows; each must be in `chain.contracts`. */
const REQUIRED = ["NodeRegistry", "AtomaVault", "StackManager", "SettlementManager"] as const;

/** How the worker reaches the chain: the actions' context (sending from the node's key) and typed reads. */
export interface SettlementChain {
  actions: ChainContext;
  contracts: AtomaContracts;
  /** This node's on-chain id, read from the registry by its signing address. */
  nodeId: bigint;
}

/** The deployment's addresses from `chain.contracts`; the ones the worker never calls may be absent. */
export function settlementAddresses(contracts: Record<string, string>): AtomaAddresses {
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
    DisputeManager: at("DisputeManager"),
    ConsensusRequests: at("ConsensusRequests"),
    EmissionSchedule: at("EmissionSchedule"),
  };
}

/** Builds the worker's chain access and reads the node's id; `ConfigError` when the signing key is not registered. */
export async function connectSettlementChain(context: NodeContext): Promise<SettlementChain> {
  const { config, account, chain } = context;
  const addresses = settlementAddresses(config.chain.contracts);
  const walletClient = createAtomaWalletClient(
    {
      rpcUrl: config.chain.rpcUrl,
      chainId: config.chain.chainId,
      pollingInterval: Math.min(config.chain.pollingIntervalMs, 1_000),
    },
    account,
  );
  const contracts = atomaContracts(addresses, chain, walletClient);
  const nodeId = await contracts.nodeRegistry.read.nodeIdOfSigner([account.address]);
  if (nodeId === 0n)
    throw new ConfigError(
      `the node's signing address ${account.address} is not registered in the NodeRegistry (atoma node register)`,
    );
  return { actions: { publicClient: chain, walletClient, addresses }, contracts, nodeId };
}

/** The chain's clock: deadlines and windows are in block time, which tests and dev chains move at will. */
export async function chainNow(chain: ChainContext["publicClient"]): Promise<bigint> {
  return (await chain.getBlock({ blockTag: "latest" })).timestamp;
}
