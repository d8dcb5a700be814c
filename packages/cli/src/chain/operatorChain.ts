import {
  type AtomaAddresses,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaWalletClient,
} from "@atoma/chain";
import { assertChain, loadKeyFile, type NodeConfig } from "@atoma/node";
import type { Address, PrivateKeyAccount } from "viem";
import { CliUsageError } from "../errors.js";

export interface OperatorChain {
  ctx: ChainContext;
  /** The node's key: it registers (as operator and signer) and sends the node's transactions. */
  account: PrivateKeyAccount;
}

/**
 * The chain context a node operator's commands send from: the node's key file, the configured RPC endpoint
 * (checked to be the configured chain), and the deployment in `chain.contracts`, which must name `needed`.
 */
export async function operatorChain(
  config: NodeConfig,
  needed: readonly (keyof AtomaAddresses)[],
): Promise<OperatorChain> {
  const contracts = config.chain.contracts as Partial<Record<keyof AtomaAddresses, Address>>;
  const missing = needed.filter((name) => contracts[name] === undefined);
  if (missing.length > 0)
    throw new CliUsageError(
      `chain.contracts must give the address of ${missing.join(", ")} (in node.toml or ATOMA_NODE_CHAIN_CONTRACTS)`,
    );
  const account = loadKeyFile(config.node.keyFile);
  const options = { rpcUrl: config.chain.rpcUrl, chainId: config.chain.chainId };
  const publicClient = createAtomaPublicClient(options);
  await assertChain(publicClient, config.chain.rpcUrl, config.chain.chainId);
  const walletClient = createAtomaWalletClient(options, account);
  // Only the contracts checked above are reached by the commands that asked for them.
  return { ctx: { publicClient, walletClient, addresses: contracts as AtomaAddresses }, account };
}
