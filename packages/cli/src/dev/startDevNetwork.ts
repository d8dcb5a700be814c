import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attestationRegistryAbi, setDevAttestation } from "@atoma/chain";
import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import type { Logger } from "@atoma/core";
import { EmbeddedEngine } from "@atoma/engine";
import { deploymentBlockError } from "@atoma/sdk";
import { type Address, formatEther, type Hex, parseEther } from "viem";
import { CliUsageError } from "../errors.js";
import type { ServiceStack } from "../lifecycle.js";
import { subscribeWhenAttested } from "./attestedSubscription.js";
import { demoUser } from "./demoUser.js";
import {
  type DevAttestationInfo,
  devAttestationAuthority,
  writeDevAttestationKey,
} from "./devAttestation.js";
import { saveDeployment, savedDeployment } from "./devDeployment.js";
import { ensureDevEchelon } from "./devEchelon.js";
import { type DevModelSource, devModelFile } from "./devModelFile.js";
import { type ProvisionedNode, provisionDevNode } from "./provisionDevNode.js";
import { ensureServedModel } from "./servedModel.js";
import { startDevExplorer } from "./startDevExplorer.js";
import { type DevGateway, devGatewayDir, startDevGateway } from "./startDevGateway.js";
import { startDevNode } from "./startDevNode.js";

export interface DevNetworkOptions {
  /** Keep the chain's state (the deployment, node keys and databases) here between runs. */
  stateDir?: string | undefined;
  /** Execution nodes to run, each registered, staked and subscribed at its own price. @default 3 */
  nodes?: number | undefined;
  /** TOMA given to each dev account on a fresh chain (from the genesis supply). @default 1_000_000 */
  tomaPerAccount?: number | undefined;
  /** Start the OpenAI-compatible gateway in front of the nodes. @default true when there are nodes */
  gateway?: boolean | undefined;
  /** The model every node serves: a GGUF file or an `hf:` source. @default the tiny model */
  model?: DevModelSource | undefined;
  /** Serve the built explorer (when it was built). @default true */
  explorer?: boolean | undefined;
  /** Where `atoma dev` writes the network file: the explorer shows it in the `atoma verify` command it suggests. */
  networkFile?: string | undefined;
  /**
   * Attesters and dispute committees select themselves in private by VRF (`DEV_PRIVATE_SELECTION`) instead of a
   * public draw. @default false
   */
  privateSelection?: boolean | undefined;
}

/**
 * `atoma dev --private-selection`: a 60-second window (`SettlementDraw.MIN_SELECTION_WINDOW`, which leaves a selected
 * node time to fetch, ask for the sample and recompute), at most 4 self-selected attesters per settlement, and
 * dispute committees over the same window (their cap 2·committeeSize + 1).
 */
export const DEV_PRIVATE_SELECTION = { window: 60, cap: 4 } as const;

/** What `atoma dev` prints after `ready `: how to reach every part of the local network. */
export interface ReadyInfo {
  rpcUrl: string;
  chainId: number;
  contracts: Record<string, Address>;
  /**
   * The block the contracts were deployed from: clients read their logs from it, not from block 0 (absent for a
   * state directory kept from before it was saved).
   */
  deploymentBlock?: number;
  accounts: Address[];
  /** The served model's id (the tiny model's, or the GGUF file's name), its file, weights root, and task ids. */
  model: string;
  modelFile: string;
  modelRoot: Hex;
  /** `confidential`: security level 3, requests sealed to a node's attested key (`atoma chat --confidential`). */
  tasks: { chat: string; chatUnverified: string; confidential: string };
  /** Each node's on-chain id, URL, signing address, and price in TOMA per 1M units. */
  nodes: { id: string; url: string; address: Address; price: string }[];
  /** A funded account (a public anvil dev key) to buy stacks with. */
  user: { address: Address; privateKey: Hex };
  /** The gateway's OpenAI-compatible base URL (`/v1` below it) and a demo API key for it, when it runs. */
  proxyUrl?: string;
  apiKey?: string;
  /** The gateway's wallet, owner of the stacks its answers come from: `createAtomaClient`'s `gatewayAddress`. */
  gatewayAddress?: Address;
  /** The explorer's page, when it is built and not turned off. */
  explorerUrl?: string;
  /** The nodes' attestation: the insecure dev kind, its root certificate file and measurements (`atoma attest`). */
  attestation?: DevAttestationInfo;
}

/** Starts the local network, registering each part with `services` so it is stopped in reverse order. */
export async function startDevNetwork(
  options: DevNetworkOptions,
  services: ServiceStack,
  logger: Logger,
): Promise<ReadyInfo> {
  // Before anything starts: a bad path, source or file fails here, with nothing left to stop.
  const file = await devModelFile(options.model, options.stateDir, logger);
  const saved = savedDeployment(options.stateDir);
  const network = await startDevnet({
    anvil: { stateDir: options.stateDir },
    logger,
    exampleConsumer: true,
    // The dev echelon is approved below, for the fingerprint the engine measures on this machine.
    echelons: [],
    kept: saved?.addresses,
    // A development network: its nodes' insecure dev attestations are accepted on every level-3 task.
    parameters: { attestation: { devNetwork: true } },
    privateSelection: options.privateSelection ? DEV_PRIVATE_SELECTION : undefined,
  });
  services.add({ name: "anvil", stop: () => network.stop() });
  if (
    network.reused &&
    Boolean(options.privateSelection) !== Boolean(network.deployment.addresses.DisputeSelection)
  )
    throw new CliUsageError(
      `the deployment kept in ${options.stateDir} was made ${options.privateSelection ? "without" : "with"} --private-selection; use it the same way or another --state-dir`,
    );
  const { addresses, contracts } = network.deployment;
  // Where clients start reading the contracts' logs: the block before the deployment holds none of them.
  let deploymentBlock = network.reused ? saved?.deploymentBlock : network.deploymentBlock;
  // A kept deployment.json that is not this chain's deployment (an anvil state copied from elsewhere): clients would
  // read the logs from the wrong block, so none is written in the network file (review F9).
  const wrongBlock =
    network.reused && deploymentBlock !== undefined
      ? await deploymentBlockError(network.publicClient, addresses.TaskRegistry, deploymentBlock)
      : undefined;
  if (wrongBlock !== undefined) {
    logger.warn({ deploymentBlock: Number(deploymentBlock) }, wrongBlock.message);
    deploymentBlock = undefined;
  }
  if (network.reused) {
    logger.info({ addresses }, "reusing the deployment kept in the state directory");
  } else {
    const amount = parseEther(String(options.tomaPerAccount ?? 1_000_000));
    for (const account of network.devAccounts.slice(1)) await network.fund(account, amount);
    saveDeployment(options.stateDir, addresses, network.deploymentBlock);
  }
  if (network.reused) await ensureDevNetworkAttestation(network);
  const model = await ensureServedModel(network, options.stateDir, file);
  // The engine every dev node shares: its fingerprint, measured here, is what the dev echelon approves.
  const engine = new EmbeddedEngine(
    { logger },
    { models: [{ id: model.id, path: model.path, weightsRoot: model.weightsRoot }] },
  );
  await engine.start();
  services.add({ name: "engine", stop: () => engine.stop() });
  await ensureDevEchelon(network, (await engine.fingerprint()).fingerprint, logger);
  const user = demoUser();
  if ((await contracts.token.read.balanceOf([user.address])) === 0n)
    await network.fund(user.address, parseEther("1000000"), parseEther("1000"));

  const nodes: ProvisionedNode[] = [];
  let attestation: DevAttestationInfo | undefined;
  const count = options.nodes ?? 3;
  const baseDir = count > 0 ? (options.stateDir ?? temporaryDir(services)) : undefined;
  let gatewayStarting: Promise<DevGateway> | undefined;
  if (baseDir !== undefined) {
    const nodesDir = join(baseDir, "nodes");
    const dirOf = (index: number) => join(nodesDir, `node-${index + 1}`);
    // The nodes provision at once, each sending from its own key; the deployer funds them one after another.
    const taskIds = [model.tasks.chat, model.tasks.chatUnverified];
    const ports = new Set<number>();
    const fund = inTurn(network.fund);
    nodes.push(
      ...(await Promise.all(
        Array.from({ length: count }, (_, index) =>
          provisionDevNode(network, {
            dir: dirOf(index),
            price: parseEther(String(index + 1)),
            taskIds,
            ports,
            fund,
          }),
        ),
      )),
    );
    logger.info({ nodes: count }, "the nodes are registered");
    const eligible = await Promise.all(
      nodes.map((node) => contracts.nodeRegistry.read.isEligible([node.nodeId])),
    );
    if (eligible.includes(false)) await network.nextEpoch();

    // The nodes are on-chain now: the gateway opens its database and reads them while they start.
    if (options.gateway !== false)
      gatewayStarting = startDevGateway(
        {
          network: { rpcUrl: network.anvil.rpcUrl, chainId: network.anvil.chainId, contracts: addresses },
          model: model.id,
          dataDir: devGatewayDir(baseDir),
          fund: (address, toma, eth) => network.fund(address, toma, eth),
          balanceOf: (address) => contracts.token.read.balanceOf([address]),
        },
        services,
        logger,
      );
    // Handled where it is awaited below; this keeps a failure during the nodes' start from going unhandled.
    gatewayStarting?.catch(() => undefined);
    try {
      // Every dev node runs confidential compute with the insecure dev attestation kind, under one local authority.
      const devAuthority = await devAttestationAuthority(baseDir);
      attestation = devAuthority.info;
      // The nodes start at once (each opens its own database); each joins the level-3 task once its record is
      // on-chain. Every node that started is registered to be stopped, even when another failed to start.
      const started = await Promise.allSettled(
        nodes.map(async (provisioned, index) => {
          const node = await startDevNode(provisioned, dirOf(index), {
            network,
            model,
            engine,
            logger: logger.child({ node: index + 1 }),
            devAttestationKeyFile: await writeDevAttestationKey(devAuthority.authority, dirOf(index)),
          });
          return node;
        }),
      );
      for (const [index, result] of started.entries())
        if (result.status === "fulfilled")
          services.add({ name: `node-${index + 1}`, stop: () => result.value.stop() });
      const failed = started.find((result) => result.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      const waited = Date.now();
      await Promise.all(
        nodes.map((provisioned) => subscribeWhenAttested(network, provisioned, model.tasks.confidential)),
      );
      logger.info({ waitedMs: Date.now() - waited }, "the nodes joined the confidential task");
    } catch (error) {
      // Whatever the gateway does, it must be registered (or have failed) before the caller stops everything.
      await gatewayStarting?.catch(() => undefined);
      throw error;
    }
  }
  const ready: ReadyInfo = {
    rpcUrl: network.anvil.rpcUrl,
    chainId: network.anvil.chainId,
    contracts: network.nodeContracts,
    ...(deploymentBlock !== undefined && { deploymentBlock: Number(deploymentBlock) }),
    accounts: [...network.devAccounts],
    model: model.id,
    modelFile: model.path,
    modelRoot: model.weightsRoot,
    tasks: {
      chat: model.tasks.chat.toString(),
      chatUnverified: model.tasks.chatUnverified.toString(),
      confidential: model.tasks.confidential.toString(),
    },
    nodes: nodes.map((node) => ({
      id: node.nodeId.toString(),
      url: node.url,
      address: node.address,
      price: formatEther(node.price),
    })),
    user: { address: user.address, privateKey: user.privateKey },
    ...(attestation ? { attestation } : {}),
  };
  const gateway = await gatewayStarting;
  const withGateway: ReadyInfo =
    gateway === undefined
      ? ready
      : { ...ready, proxyUrl: gateway.url, apiKey: gateway.apiKey, gatewayAddress: gateway.address };
  if (options.explorer === false) return withGateway;
  const explorerUrl = await startDevExplorer(withGateway, services, logger, options.networkFile);
  return explorerUrl === undefined ? withGateway : { ...withGateway, explorerUrl };
}

/** A kept deployment made before `atoma dev` set `attestation.devNetwork`: set it now. */
async function ensureDevNetworkAttestation(network: Devnet): Promise<void> {
  const allowed = await network.publicClient.readContract({
    address: network.deployment.addresses.AttestationRegistry,
    abi: attestationRegistryAbi,
    functionName: "devNetwork",
  });
  if (!allowed) await setDevAttestation(network.admin, { network: true, allowed: true });
}

/** A directory for the nodes' keys and databases when nothing is kept, removed after they stop. */
function temporaryDir(services: ServiceStack): string {
  const dir = mkdtempSync(join(tmpdir(), "atoma-dev-"));
  services.add({ name: "temporary files", stop: async () => rmSync(dir, { recursive: true, force: true }) });
  return dir;
}

/** `send`, with each call starting once the one before it settled. */
function inTurn<A extends unknown[]>(send: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const next = last.then(() => send(...args));
    last = next.catch(() => undefined);
    return next;
  };
}
