import {
  atomaContracts,
  createAtomaPublicClient,
  createAtomaWalletClient,
  createTask,
  deployContracts,
  devAccounts,
  modelIdOf,
  registerModel,
  SecurityLevel,
  startAnvil,
  TaskRole,
} from "@atoma/chain";
import type { Logger } from "@atoma/core";
import { type Address, type Hex, parseEther } from "viem";
import type { ServiceStack } from "../lifecycle.js";
import { loadDeployment, saveDeployment } from "./devDeployment.js";

export interface DevNetworkOptions {
  /** Keep the chain's state (and the deployment) here between runs. */
  stateDir?: string | undefined;
  /** TOMA minted to each dev account on a fresh chain. @default 1_000_000 */
  tomaPerAccount?: number;
  /**
   * The model the local network serves: registered on a fresh chain (owner: the first dev account) with a
   * cross-validated chat task at the whitepaper's replication rate and an unverified one. Omitted: none.
   */
  model?: { name: string; weightsRoot: Hex } | undefined;
}

/** What `atoma dev` prints after `ready `: how to reach every part of the local network. */
export interface ReadyInfo {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  accounts: Address[];
  /** The served model's name, when one was registered. */
  model?: string | undefined;
  /** Task ids of the served model: `chat` (cross-validated) and `chatUnverified`. */
  tasks?: { chat: string; chatUnverified: string } | undefined;
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
  let tasks: ReadyInfo["tasks"];
  if (addresses) {
    logger.info({ addresses }, "reusing the deployment kept in the state directory");
  } else {
    addresses = (await deployContracts(publicClient, wallet, { logger, exampleConsumer: true })).addresses;
    const { token } = atomaContracts(addresses, publicClient, wallet);
    const amount = parseEther(String(options.tomaPerAccount ?? 1_000_000));
    for (const account of accounts) {
      await publicClient.waitForTransactionReceipt({ hash: await token.write.mint([account, amount]) });
    }
    if (options.model)
      tasks = await registerServedModel({ publicClient, walletClient: wallet, addresses }, options.model);
    saveDeployment(options.stateDir, addresses);
  }
  const contracts = Object.fromEntries(
    Object.entries(addresses).filter((entry): entry is [string, Address] => entry[1] !== undefined),
  );
  return {
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    contracts,
    accounts,
    ...(options.model ? { model: options.model.name } : {}),
    ...(tasks ? { tasks } : {}),
  };
}

async function registerServedModel(
  ctx: Parameters<typeof registerModel>[0],
  model: { name: string; weightsRoot: Hex },
): Promise<NonNullable<ReadyInfo["tasks"]>> {
  const modelId = modelIdOf(model.name);
  await registerModel(ctx, {
    modelId,
    weightsRoot: model.weightsRoot,
    feeBps: 500,
    collateral: parseEther("100"),
    uri: `atoma://models/${model.name}`,
  });
  const chat = await createTask(ctx, {
    modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.CrossValidation,
    replicationPpm: 8_000,
    attesters: 1,
    sampleSize: 4,
  });
  const unverified = await createTask(ctx, {
    modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.None,
  });
  return { chat: chat.taskId.toString(), chatUnverified: unverified.taskId.toString() };
}
