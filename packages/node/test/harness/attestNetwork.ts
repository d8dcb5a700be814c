import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Anvil,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  createTask,
  type Deployment,
  deployContracts,
  devAccounts,
  modelIdOf,
  type ParameterOverrides,
  registerModel,
  registerNode,
  SecurityLevel,
  startAnvil,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type InferenceEngine } from "@atoma/engine";
import { keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { attestationPart } from "../../src/attestation/attestationPart.js";
import type { CommitStrategy } from "../../src/attestation/commitStrategy.js";
import { parseNodeConfig } from "../../src/config/loadConfig.js";
import { createNodeMetrics, type NodeMetrics } from "../../src/metrics/nodeMetrics.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import { TEST_ECHELON } from "../helpers/testEchelon.js";
import { StallingFront } from "./stallingFront.js";

export const MODEL = "atoma-tiny";
export const PRICE = parseEther("2"); // per million units
export const COLLATERAL = parseEther("1000");

/** A registered node running the real node software with the attestation part. */
export interface HarnessNode {
  nodeId: bigint;
  node: AtomaNode;
  metrics: NodeMetrics;
  /** The node's signing key, as an action context (what a serving node sends from). */
  signer: ChainContext;
  signerAccount: LocalAccount;
  /** What the node's registered URL reaches: its HTTP server, through a front that can stall blob requests. */
  front: StallingFront;
}

export interface AttestNetwork {
  anvil: Anvil;
  deployment: Deployment;
  nodes: HarnessNode[];
  taskId: bigint;
  user: { account: LocalAccount; ctx: ChainContext };
  /** The project's tiny model: what every honest node runs. */
  engine: InferenceEngine;
  byId(nodeId: bigint): HarnessNode;
  advance(seconds: number): Promise<void>;
  /** Stops a node's process stand-in; `start` brings it back over the same database, blobs and port. */
  restart(nodeId: bigint, whileStopped?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface AttestNetworkOptions {
  nodes: number;
  /** Requests each attester recomputes. */
  sampleSize: number;
  /** The strategy each node's worker commits with. @default honest */
  strategyOf?: ((nodeId: bigint) => CommitStrategy | undefined) | undefined;
  /** Deployment parameters other than the dev defaults. */
  parameters?: ParameterOverrides | undefined;
  /** Attesters per settlement. @default 2 */
  attesters?: number | undefined;
  /** Milliseconds an attester waits for a transcript. @default 30000 */
  fetchTimeoutMs?: number | undefined;
}

const freePort = StallingFront.freePort;

/** Tiny-model engine on one thread; `seed` picks the weights, served under the project's model id. */
export async function tinyEngine(seed = 1): Promise<EmbeddedEngine> {
  const file = ensureTinyModel({ seed });
  const engine = new EmbeddedEngine(
    { logger: silentLogger },
    { models: [{ id: MODEL, path: file.path }], threads: 1, contextSize: 1024 },
  );
  await engine.start();
  return engine;
}

/**
 * anvil with every contract, a cross-validated task with p = 1 (two attesters, `sampleSize` requests each), and
 * `nodes` registered nodes, each a real `createNode` (own database, blob store, HTTP server at its registered URL)
 * with the attestation part and a shared honest engine.
 */
export async function startAttestNetwork(options: AttestNetworkOptions): Promise<AttestNetwork> {
  const root = mkdtempSync(join(tmpdir(), "atoma-attest-"));
  const anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const test = createAtomaTestClient(chain);
  const [deployer] = await devAccounts(chain);
  const adminWallet = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const deployment = await deployContracts(publicClient, adminWallet, {
    parameters: options.parameters,
    echelons: [TEST_ECHELON],
  });
  const { addresses, contracts } = deployment;
  const admin: ChainContext = { publicClient, walletClient: adminWallet, addresses };
  const account = async (toma: bigint) => {
    const local = privateKeyToAccount(generatePrivateKey());
    await test.setBalance({ address: local.address, value: parseEther("100") });
    if (toma > 0n)
      await publicClient.waitForTransactionReceipt({
        hash: await contracts.token.write.transfer([local.address, toma]),
      });
    const ctx: ChainContext = {
      publicClient,
      walletClient: createAtomaWalletClient(chain, local),
      addresses,
    };
    return { account: local, ctx };
  };
  const modelId = modelIdOf(MODEL);
  const owner = await account(parseEther("1000"));
  await registerModel(owner.ctx, {
    modelId,
    weightsRoot: keccak256(stringToBytes("weights")),
    feeBps: 500,
    collateral: parseEther("100"),
    uri: "atoma://models/atoma-tiny",
  });
  const { taskId } = await createTask(admin, {
    modelId,
    role: TaskRole.Chat,
    securityLevel: SecurityLevel.CrossValidation,
    replicationPpm: 1_000_000,
    attesters: options.attesters ?? 2,
    sampleSize: options.sampleSize,
  });
  const engine = await tinyEngine();
  const modelPath = ensureTinyModel().path;

  const registered: (Omit<HarnessNode, "node" | "metrics"> & { port: number; index: number })[] = [];
  for (let index = 0; index < options.nodes; index++) {
    const operator = await account(parseEther("10000"));
    const signer = await account(0n);
    const port = await freePort();
    const front = new StallingFront(port);
    const frontPort = await freePort();
    await front.listen(frontPort);
    const { nodeId } = await registerNode(operator.ctx, {
      signer: signer.account,
      url: `http://127.0.0.1:${frontPort}`,
      echelon: 1,
      collateral: COLLATERAL,
    });
    await subscribe(signer.ctx, { taskId, nodeId, pricePerMillion: PRICE, capacity: 10n ** 12n });
    registered.push({ nodeId, signer: signer.ctx, signerAccount: signer.account, front, port, index });
  }
  const makers = new Map<bigint, () => AtomaNode>();
  // Node start-up is mostly the embedded database's: start them side by side.
  const nodes: HarnessNode[] = await Promise.all(
    registered.map(async ({ port, index, ...identity }) => {
      const config = parseNodeConfig(
        {
          chain: {
            rpcUrl: anvil.rpcUrl,
            chainId: anvil.chainId,
            contracts: { ...addresses },
            pollingIntervalMs: 250,
          },
          node: {
            keyFile: join(root, "unused.key"),
            port,
            dataDir: join(root, `node-${index}`),
            shutdownTimeoutMs: 1_000,
          },
          model: { path: modelPath, id: MODEL },
        },
        root,
      );
      const metrics = createNodeMetrics();
      const strategy = options.strategyOf?.(identity.nodeId);
      const make = () =>
        createNode(
          {
            account: identity.signerAccount,
            engine,
            metrics,
            parts: [
              attestationPart(
                { commitStrategy: strategy, nodeId: identity.nodeId },
                { pollIntervalMs: 250, fetchTimeoutMs: options.fetchTimeoutMs },
              ),
            ],
          },
          config,
        );
      makers.set(identity.nodeId, make);
      const node = make();
      await node.start();
      return { ...identity, node, metrics };
    }),
  );
  const user = await account(parseEther("100000"));
  // Nodes serve and attest from the epoch after they registered.
  await test.increaseTime({ seconds: 3_600 });
  await test.mine({ blocks: 1 });
  return {
    anvil,
    deployment,
    nodes,
    taskId,
    user,
    engine,
    byId(nodeId) {
      const found = nodes.find((n) => n.nodeId === nodeId);
      if (!found) throw new Error(`no node ${nodeId}`);
      return found;
    },
    async advance(seconds) {
      await test.increaseTime({ seconds });
      await test.mine({ blocks: 1 });
    },
    async restart(nodeId, whileStopped) {
      const harnessNode = nodes.find((n) => n.nodeId === nodeId)!;
      await harnessNode.node.stop();
      await whileStopped?.();
      harnessNode.node = makers.get(nodeId)!();
      await harnessNode.node.start();
    },
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.front.close()));
      await Promise.allSettled(nodes.map((n) => n.node.stop()));
      await engine.stop();
      await anvil.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
