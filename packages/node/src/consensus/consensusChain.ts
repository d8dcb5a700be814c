import { type AtomaAddresses, type ChainContext, createAtomaWalletClient } from "@atoma/chain";
import { nodeRegistryAbi } from "@atoma/contracts";
import type { Address } from "viem";
import type { NodeContext } from "../service/nodePart.js";
import { ConsensusSetupError } from "./errors.js";

/** The contracts the consensus part talks to. */
export interface ConsensusAddresses {
  ConsensusRequests: Address;
  DisputeManager: Address;
  NodeRegistry: Address;
  TaskRegistry: Address;
}

const REQUIRED = ["ConsensusRequests", "DisputeManager", "NodeRegistry", "TaskRegistry"] as const;

/** The addresses from `chain.contracts`, or the names missing there. */
export function consensusAddresses(
  contracts: Record<string, string>,
): { addresses: ConsensusAddresses } | { missing: string[] } {
  const missing = REQUIRED.filter((name) => contracts[name] === undefined);
  if (missing.length > 0) return { missing };
  return {
    addresses: {
      ConsensusRequests: contracts.ConsensusRequests as Address,
      DisputeManager: contracts.DisputeManager as Address,
      NodeRegistry: contracts.NodeRegistry as Address,
      TaskRegistry: contracts.TaskRegistry as Address,
    },
  };
}

/**
 * An action context that sends from the node's signing key. The chain actions used here read only the
 * addresses above, so the rest of `AtomaAddresses` is whatever `chain.contracts` holds.
 */
export function consensusChainContext(context: NodeContext, addresses: ConsensusAddresses): ChainContext {
  const { rpcUrl, chainId, pollingIntervalMs } = context.config.chain;
  return {
    publicClient: context.chain,
    walletClient: createAtomaWalletClient(
      { rpcUrl, chainId, pollingInterval: Math.min(pollingIntervalMs, 1_000) },
      context.account,
    ),
    addresses: { ...context.config.chain.contracts, ...addresses } as AtomaAddresses,
  };
}

/** The node id registered for the node's signing address; ConsensusSetupError when there is none. */
export async function readOwnNodeId(context: NodeContext, addresses: ConsensusAddresses): Promise<bigint> {
  const nodeId = await context.chain.readContract({
    address: addresses.NodeRegistry,
    abi: nodeRegistryAbi,
    functionName: "nodeIdOfSigner",
    args: [context.account.address],
  });
  if (nodeId === 0n)
    throw new ConsensusSetupError(
      `the signing address ${context.account.address} is not registered as a node (atoma node register)`,
    );
  return nodeId;
}
