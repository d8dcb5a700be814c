import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Anvil, type ChainContext, type ParameterOverrides, SecurityLevel } from "@atoma/chain";
import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import type { EmbeddedEngine, InferenceEngine, TinyChatTemplate } from "@atoma/engine";
import { type LocalAccount, parseEther } from "viem";
import { attestationPart } from "../../src/attestation/attestationPart.js";
import type { CommitStrategy } from "../../src/attestation/commitStrategy.js";
import { devNodeConfig } from "../../src/devnet/devNodeConfig.js";
import { startTinyEngine } from "../../src/devnet/tinyEngine.js";
import { waitFor } from "../../src/devnet/waitFor.js";
import { createNodeMetrics, type NodeMetrics } from "../../src/metrics/nodeMetrics.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import { StallingFront } from "./stallingFront.js";

export const MODEL = "atoma-tiny";
export const PRICE = DEV_PRICE_PER_MILLION; // per million units
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
  deployment: Devnet["deployment"];
  nodes: HarnessNode[];
  taskId: bigint;
  user: { account: LocalAccount; ctx: ChainContext };
  /** The deployer, which holds governance on the dev chain. */
  admin: ChainContext;
  /** The project's tiny model: what every honest node runs. */
  engine: InferenceEngine;
  byId(nodeId: bigint): HarnessNode;
  advance(seconds: number): Promise<void>;
  /**
   * Starts the nodes `startAttestNetwork` left stopped (`late`): each registers its VRF key as it starts, so its
   * key is newer than any settlement frozen before.
   */
  startLate(): Promise<void>;
  /**
   * Registers, subscribes (at PRICE) and starts `count` more nodes, then moves to the next epoch, from which they
   * serve and attest (a test whose cheaters were slashed tops its network up this way).
   */
  addNodes(count: number): Promise<HarnessNode[]>;
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
  /** Each node's attestation `concurrency`. @default the node configuration's `settlement.maxConcurrentDuties` */
  concurrency?: number | undefined;
  /** Private self-selection of attesters by VRF (`DeployOptions.privateSelection`). @default off */
  privateSelection?: { window: number; cap: number } | undefined;
  /** The chat template of the tiny model every node runs (served as MODEL either way). @default "chatml" */
  template?: TinyChatTemplate | undefined;
  /**
   * The last `late` nodes are registered and subscribed with the rest, at twice the price (so a stack at PRICE never
   * draws one to serve, while every settlement freezes it as a candidate), but their processes start only on
   * `startLate`. @default 0
   */
  late?: number | undefined;
}

const freePort = StallingFront.freePort;

/** Tiny-model engine on one thread; `seed` picks the weights, served under the project's model id. */
export async function tinyEngine(seed = 1): Promise<EmbeddedEngine> {
  return (await startTinyEngine({ seed, id: MODEL, contextSize: 1024 })).engine;
}

/**
 * anvil with every contract, a cross-validated task with p = 1 (two attesters, `sampleSize` requests each), and
 * `nodes` registered nodes, each a real `createNode` (own database, blob store, HTTP server at its registered URL)
 * with the attestation part and a shared honest engine.
 */
export async function startAttestNetwork(options: AttestNetworkOptions): Promise<AttestNetwork> {
  const root = mkdtempSync(join(tmpdir(), "atoma-attest-"));
  const network = await startDevnet({
    parameters: options.parameters,
    privateSelection: options.privateSelection,
  });
  const { modelId } = await network.registerModel({ name: MODEL });
  const taskId = await network.addTask({
    modelId,
    securityLevel: SecurityLevel.CrossValidation,
    replicationPpm: 1_000_000,
    attesters: options.attesters ?? 2,
    sampleSize: options.sampleSize,
  });
  const { engine, model } = await startTinyEngine({
    id: MODEL,
    contextSize: 1024,
    template: options.template,
  });

  type Registered = Omit<HarnessNode, "node" | "metrics"> & {
    port: number;
    releasePort: () => Promise<void>;
  };
  /** Registers and subscribes one node (its process is not started): `late` ones at twice the price. */
  const register = async (late: boolean): Promise<Registered> => {
    const held = await StallingFront.heldPort();
    const front = new StallingFront(held.port);
    const frontPort = await freePort();
    await front.listen(frontPort);
    const node: DevNode = await network.addNode({
      url: `http://127.0.0.1:${frontPort}`,
      collateral: COLLATERAL,
      operatorToma: parseEther("10000"),
    });
    await network.subscribe(node, taskId, late ? { pricePerMillion: 2n * PRICE } : {});
    return {
      nodeId: node.nodeId,
      signer: node.signer,
      signerAccount: node.signerAccount,
      front,
      port: held.port,
      releasePort: held.release,
    };
  };
  const makers = new Map<bigint, () => AtomaNode>();
  /** The node software of a registered node, made (not started) over its own database, blobs and port. */
  const build = ({ port, releasePort: _, ...identity }: Registered): HarnessNode => {
    const config = devNodeConfig(
      network,
      {
        chain: { pollingIntervalMs: 250 },
        node: { port, dataDir: join(root, `node-${identity.nodeId}`) },
        model: { path: model.path, id: MODEL },
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
              { commitStrategy: strategy },
              {
                pollIntervalMs: 250,
                fetchTimeoutMs: options.fetchTimeoutMs,
                concurrency: options.concurrency,
              },
            ),
          ],
        },
        config,
      );
    makers.set(identity.nodeId, make);
    return { ...identity, node: make(), metrics };
  };

  const lateCount = options.late ?? 0;
  const registered: Registered[] = [];
  for (let index = 0; index < options.nodes; index++)
    registered.push(await register(index >= options.nodes - lateCount));
  const lateStarts: (() => Promise<void>)[] = [];
  const lateReleases: (() => Promise<void>)[] = [];
  // Node start-up is mostly the embedded database's: start them side by side.
  const nodes: HarnessNode[] = await Promise.all(
    registered.map(async (identity, index) => {
      const harnessNode = build(identity);
      if (index >= options.nodes - lateCount) {
        lateReleases.push(identity.releasePort);
        lateStarts.push(async () => {
          await identity.releasePort();
          await harnessNode.node.start();
        });
        return harnessNode;
      }
      await identity.releasePort();
      await harnessNode.node.start();
      return harnessNode;
    }),
  );
  const user = await network.account();
  // Nodes serve and attest from the epoch after they registered.
  await network.nextEpoch();
  return {
    anvil: network.anvil,
    deployment: network.deployment,
    nodes,
    taskId,
    user,
    admin: network.admin,
    engine,
    byId(nodeId) {
      const found = nodes.find((n) => n.nodeId === nodeId);
      if (!found) throw new Error(`no node ${nodeId}`);
      return found;
    },
    advance: (seconds) => network.advance(seconds),
    async startLate() {
      for (const start of lateStarts.splice(0)) await start();
    },
    async addNodes(count) {
      const added: HarnessNode[] = [];
      for (let i = 0; i < count; i++) {
        const identity = await register(false);
        const harnessNode = build(identity);
        await identity.releasePort();
        await harnessNode.node.start();
        nodes.push(harnessNode);
        added.push(harnessNode);
      }
      await network.nextEpoch();
      return added;
    },
    async restart(nodeId, whileStopped) {
      const harnessNode = nodes.find((n) => n.nodeId === nodeId)!;
      await harnessNode.node.stop();
      await whileStopped?.();
      harnessNode.node = makers.get(nodeId)!();
      await harnessNode.node.start();
    },
    async stop() {
      await Promise.allSettled(lateStarts.splice(0).map((_, i) => lateReleases[i]!()));
      await Promise.allSettled(nodes.map((n) => n.front.close()));
      await Promise.allSettled(nodes.map((n) => n.node.stop()));
      await engine.stop();
      await network.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export const eventually = <T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 60_000) =>
  waitFor(what, check, timeoutMs);
