import type { Address } from "viem";
import { type Anvil, type AnvilOptions, startAnvil } from "../anvil/startAnvil.js";
import {
  type AtomaPublicClient,
  type ChainClientOptions,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  devAccounts,
} from "../clients.js";
import {
  type AtomaAddresses,
  atomaContracts,
  type DeployOptions,
  deployContracts,
  type EchelonApproval,
} from "../deploy.js";
import { AnvilStartError } from "../errors.js";
import { type Devnet, devnetOver } from "./devnet.js";
import { DEV_ECHELON } from "./devRegistry.js";

export interface DevnetOptions
  extends Pick<DeployOptions, "parameters" | "exampleConsumer" | "logger" | "privateSelection"> {
  /** Echelons approved at deployment; no node registers in another. @default [DEV_ECHELON] */
  echelons?: readonly EchelonApproval[] | undefined;
  /** How anvil starts: a state directory to keep the chain in, a logger. */
  anvil?: AnvilOptions | undefined;
  /** Milliseconds the network's clients poll at. @default 50 */
  pollingInterval?: number | undefined;
  /**
   * A deployment kept in anvil's state from an earlier run: used as it is while every contract's code is still
   * there (`Devnet.reused`), else the contracts are deployed afresh.
   */
  kept?: AtomaAddresses | undefined;
}

/**
 * Starts anvil, deploys every Atoma contract with the dev parameters and `options.parameters` over them (the
 * first dev account deploys, administers and holds the genesis supply), and returns the network with helpers to
 * fund accounts and register models, nodes and tasks. `stop()` stops anvil.
 */
export async function startDevnet(options: DevnetOptions = {}): Promise<Devnet> {
  const anvil = await startAnvil({ logger: options.logger, ...options.anvil });
  try {
    return await deployDevnet(anvil, options);
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

/** `startDevnet` on an anvil already running (`options.anvil` is not used); the network's `stop()` stops it. */
export async function deployDevnet(
  anvil: Anvil,
  options: Omit<DevnetOptions, "anvil"> = {},
): Promise<Devnet> {
  const rpc: ChainClientOptions = {
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    pollingInterval: options.pollingInterval ?? 50,
  };
  const publicClient = createAtomaPublicClient(rpc);
  // anvil holds the keys of its dev accounts and signs for them, so no key material passes through here.
  const accounts = await devAccounts(rpc);
  const deployer = accounts[0];
  if (!deployer) throw new AnvilStartError("anvil reported no dev accounts");
  const adminWallet = createAtomaWalletClient(rpc, { address: deployer, type: "json-rpc" });
  const kept = options.kept && (await isDeployed(publicClient, options.kept)) ? options.kept : undefined;
  const deploymentBlock = kept ? undefined : (await publicClient.getBlockNumber()) + 1n;
  const addresses =
    kept ??
    (
      await deployContracts(publicClient, adminWallet, {
        parameters: options.parameters,
        echelons: options.echelons ?? [DEV_ECHELON],
        exampleConsumer: options.exampleConsumer,
        privateSelection: options.privateSelection,
        logger: options.logger,
      })
    ).addresses;
  return devnetOver({
    anvil,
    rpc,
    publicClient,
    testClient: createAtomaTestClient(rpc),
    devAccounts: accounts,
    admin: { publicClient, walletClient: adminWallet, addresses },
    deployment: { addresses, contracts: atomaContracts(addresses, publicClient, adminWallet) },
    reused: kept !== undefined,
    deploymentBlock,
  });
}

/** Whether every address of a kept deployment still holds code (anvil's state may have been reset). */
async function isDeployed(publicClient: AtomaPublicClient, addresses: AtomaAddresses): Promise<boolean> {
  // Kept from before the attestation registry existed: its task registry cannot take confidential tasks.
  if (!addresses.AttestationRegistry) return false;
  for (const address of Object.values(addresses) as (Address | undefined)[]) {
    if (address === undefined) continue;
    const code = await publicClient.getCode({ address });
    if (!code || code === "0x") return false;
  }
  return true;
}
