import {
  type AtomaAddresses,
  type AtomaContracts,
  atomaContracts,
  type ChainContext,
  createAtomaWalletClient,
} from "@atoma/chain";
import type { Address } from "viem";
import { ConfigError } from "../errors.js";
import type { NodeContext } from "../service/nodePart.js";

/** The contracts the attestation worker reads and calls. */
export const ATTESTATION_CONTRACTS = [
  "NodeRegistry",
  "TaskRegistry",
  "StackManager",
  "SettlementManager",
  "SettlementDraw",
  "SettlementEvidence",
  "DisputeManager",
] as const;

/** The attestation contracts missing from `chain.contracts`. */
export function missingAttestationContracts(context: NodeContext): string[] {
  return ATTESTATION_CONTRACTS.filter((name) => !context.config.chain.contracts[name]);
}

/** What the worker talks to the chain with: the actions' context, typed contracts, and this node's id. */
export interface AttestationChain {
  ctx: ChainContext;
  contracts: AtomaContracts;
  chainId: number;
  /** This node's on-chain id (looked up by its signing address); 0 while it is not registered. */
  nodeId(): Promise<bigint>;
  /** The latest block's timestamp: deadlines are compared with chain time, never the local clock. */
  now(): Promise<bigint>;
}

export function createAttestationChain(context: NodeContext, fixedNodeId?: bigint): AttestationChain {
  const configured = context.config.chain.contracts;
  const [missing] = missingAttestationContracts(context);
  if (missing)
    throw new ConfigError(
      `chain.contracts.${missing} (ATOMA_NODE_CHAIN_CONTRACTS) is required by the attestation worker`,
    );
  const addresses = configured as unknown as AtomaAddresses;
  const walletClient = createAtomaWalletClient(
    { rpcUrl: context.config.chain.rpcUrl, chainId: context.config.chain.chainId },
    context.account,
  );
  const ctx: ChainContext = { publicClient: context.chain, walletClient, addresses };
  const contracts = atomaContracts(addresses, context.chain, walletClient);
  let known = fixedNodeId ?? 0n;
  return {
    ctx,
    contracts,
    chainId: context.config.chain.chainId,
    async nodeId() {
      if (known === 0n)
        known = await contracts.nodeRegistry.read.nodeIdOfSigner([context.account.address as Address]);
      return known;
    },
    async now() {
      return (await context.chain.getBlock({ blockTag: "latest" })).timestamp;
    },
  };
}
