import {
  atomaContracts,
  createAtomaPublicClient,
  createAtomaWalletClient,
  deployContracts,
  devAccounts,
  startAnvil,
} from "@atoma/chain";
import type { Logger } from "@atoma/core";
import { type Address, parseEther } from "viem";
import type { ServiceStack } from "../lifecycle.js";
import { loadDeployment, saveDeployment } from "./devDeployment.js";

export interface DevNetworkOptions {
  /** Keep the chain's state (and the deployment) here between runs. */
  stateDir?: string | undefined;
  /** TOMA minted to each dev account on a fresh chain. @default 1_000_000 */
  tomaPerAccount?: number;
}

/** What `atoma dev` prints after `ready `: how to reach every part of the local network. */
export interface ReadyInfo {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  accounts: Address[];
}

/** Starts the local network, registering each part with `services` so it is stopped in reverse order. */
export async function startDevNetwork(
  options: DevNetworkOptions,
  services: ServiceStack,
  logger: Logger,
): Promise<ReadyInfo> {
  const anvil = await startAnvil({ stateDir: options.stateDir, logger });
  services.add({ name: "anvil", stop: () => anvil.stop() });
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  // anvil holds the keys of its dev accounts and signs for them, so no key material passes through here.
  const accounts = await devAccounts(chain);
  const deployer = accounts[0];
  if (!deployer) throw new Error("anvil reported no dev accounts");
  const wallet = createAtomaWalletClient(chain, { address: deployer, type: "json-rpc" });
  let addresses = await loadDeployment(options.stateDir, publicClient);
  if (addresses) {
    logger.info({ addresses }, "reusing the deployment kept in the state directory");
  } else {
    addresses = (await deployContracts(publicClient, wallet, { logger })).addresses;
    const { token } = atomaContracts(addresses, publicClient, wallet);
    const amount = parseEther(String(options.tomaPerAccount ?? 1_000_000));
    for (const account of accounts) {
      await publicClient.waitForTransactionReceipt({ hash: await token.write.mint([account, amount]) });
    }
    saveDeployment(options.stateDir, addresses);
  }
  return { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId, contracts: { ...addresses }, accounts };
}
