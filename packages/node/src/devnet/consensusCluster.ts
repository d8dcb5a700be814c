import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecurityLevel } from "@atoma/chain";
import { type DevNode, type Devnet, type DevnetOptions, startDevnet } from "@atoma/chain/devnet";
import { silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type InferenceEngine } from "@atoma/engine";
import { type Hex, keccak256, parseEther, stringToBytes } from "viem";
import type { NodeConfig } from "../config/loadConfig.js";
import { consensusChatBody, consensusSeed, outputBytes } from "../consensus/consensusBody.js";
import { consensusPart } from "../consensus/consensusPart.js";
import { type AtomaNode, createNode } from "../service/createNode.js";
import { devNodeConfig } from "./devNodeConfig.js";
import { rewritingEngine } from "./rewritingEngine.js";

/** The cluster's model, the cheater's cheaper one, the price asked, the echelon and a request's bounds. */
export const CLUSTER_MODEL = "atoma-tiny";
export const CLUSTER_CHEAP_MODEL = "atoma-tiny-s2";
export const CLUSTER_PRICE = parseEther("2");
export const CLUSTER_ECHELON = 2;
export const CLUSTER_MAX_UNITS = 200n;
export const CLUSTER_MAX_OUTPUT_TOKENS = 24;

/**
 * Seven in-process nodes on one anvil, sharing one embedded engine over the tiny model: six honest ones and, last,
 * a cheater whose engine runs the tiny model of another seed. `honestTask` is drawn at CLUSTER_PRICE among the
 * first three only (nodes 4–6 ask twice as much); `cheatTask` is drawn at CLUSTER_PRICE among the cheater and the
 * first two (nodes 3–5 ask twice as much), so a request at CLUSTER_PRICE always samples the cheater and its dispute
 * committee is nodes 3–5. A request is accepted only when the echelon's pool of its task, at any price, holds n +
 * the dispute committee minimum (3 here): each task holds six nodes, room for n = 3 — and `honestTask` keeps it
 * once the cheater is slashed, which is why it has a node of its own (node 6) rather than the cheater.
 */
export interface ConsensusCluster {
  /** The network, with the example consumer deployed and the model registered. */
  network: Devnet;
  engine: EmbeddedEngine;
  chainNodes: DevNode[];
  nodes: AtomaNode[];
  cheater: DevNode;
  honestTask: bigint;
  cheatTask: bigint;
  nodeOf(nodeId: bigint): AtomaNode;
  /** A node configuration on this network, with its data under `name`. */
  configFor(name: string): NodeConfig;
  /** The output an honest node must produce: the engine's answer to the documented body. */
  honestOutput(requestId: bigint, prompt: Hex): Promise<Hex>;
  /** That output and its unit count (prompt plus completion tokens), which the root binds. */
  honestResult(requestId: bigint, prompt: Hex): Promise<{ output: Hex; units: bigint }>;
  stop(): Promise<void>;
}

export interface ConsensusClusterOptions extends Pick<DevnetOptions, "privateSelection"> {
  /** The dispute committee's size and minimum (default: the dev size, a minimum of three). */
  dispute?: { committeeSize?: number; minCommittee?: number } | undefined;
}

export async function startConsensusCluster(
  options: ConsensusClusterOptions = {},
): Promise<ConsensusCluster> {
  const root = mkdtempSync(join(tmpdir(), "atoma-consensus-"));
  // A dispute committee minimum of three (the dev parameters' is one), as the cluster's layout assumes.
  const network = await startDevnet({
    parameters: { dispute: { minCommittee: 3, ...options.dispute } },
    exampleConsumer: true,
    privateSelection: options.privateSelection,
    echelons: [
      { echelon: CLUSTER_ECHELON, fingerprint: keccak256(stringToBytes("consensus cluster echelon")) },
    ],
  });
  const { modelId } = await network.registerModel({ name: CLUSTER_MODEL });
  const honest = ensureTinyModel({ seed: 1 });
  const cheap = ensureTinyModel({ seed: 2 });
  const engine = new EmbeddedEngine(
    { logger: silentLogger },
    {
      models: [
        { id: honest.id, path: honest.path },
        { id: cheap.id, path: cheap.path },
      ],
      threads: 1,
      contextSize: 1024,
    },
  );
  await engine.start();

  const chainNodes: DevNode[] = [];
  for (let i = 0; i < 7; i++) chainNodes.push(await network.addNode({ echelon: CLUSTER_ECHELON }));
  const [h1, h2, h3, h4, h5, h6, cheater] = chainNodes as [
    DevNode,
    DevNode,
    DevNode,
    DevNode,
    DevNode,
    DevNode,
    DevNode,
  ];
  /** A consensus-level task on the model: the first nodes ask CLUSTER_PRICE, the others twice as much. */
  const consensusTask = async (cheap: DevNode[], dear: DevNode[]) => {
    const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.Consensus });
    for (const node of cheap) await network.subscribe(node, taskId, { pricePerMillion: CLUSTER_PRICE });
    for (const node of dear) await network.subscribe(node, taskId, { pricePerMillion: 2n * CLUSTER_PRICE });
    return taskId;
  };
  const honestTask = await consensusTask([h1, h2, h3], [h4, h5, h6]);
  const cheatTask = await consensusTask([cheater, h1, h2], [h3, h4, h5]);
  await network.nextEpoch(); // nodes are eligible from the epoch after they registered

  const configFor = (name: string) =>
    devNodeConfig(
      network,
      {
        node: { dataDir: join(root, name) },
        model: { path: honest.path, id: CLUSTER_MODEL },
        metrics: { enabled: false },
      },
      root,
    );
  const nodes = chainNodes.map((chainNode, i) => {
    const nodeEngine: InferenceEngine =
      chainNode === cheater ? rewritingEngine(engine, CLUSTER_MODEL, CLUSTER_CHEAP_MODEL) : engine;
    return createNode(
      {
        account: chainNode.signerAccount,
        engine: nodeEngine,
        parts: [
          consensusPart({
            pollIntervalMs: 100,
            maxOutputTokens: CLUSTER_MAX_OUTPUT_TOKENS,
            turnGraceMs: 300,
          }),
        ],
      },
      configFor(`node-${i}`),
    );
  });
  for (const node of nodes) await node.start();

  const honestResult = async (requestId: bigint, prompt: Hex) => {
    const { messages } = consensusChatBody({ model: CLUSTER_MODEL, prompt, seed: 0 }) as {
      messages: unknown;
    };
    const { count } = await engine.tokenize({ model: CLUSTER_MODEL, messages });
    const maxTokens = Math.min(CLUSTER_MAX_OUTPUT_TOKENS, Number(CLUSTER_MAX_UNITS) - count);
    const seed = consensusSeed(network.deployment.addresses.ConsensusRequests, requestId);
    const { response } = await engine.chat(
      consensusChatBody({ model: CLUSTER_MODEL, prompt, seed, maxTokens }),
    );
    const { prompt_tokens, completion_tokens } = response.usage;
    return {
      output: outputBytes(response.choices[0]!.message.content ?? "", 16_384),
      units: BigInt(prompt_tokens + completion_tokens),
    };
  };

  return {
    network,
    engine,
    chainNodes,
    nodes,
    cheater,
    honestTask,
    cheatTask,
    configFor,
    nodeOf: (id) => nodes[chainNodes.findIndex((n) => n.nodeId === id)]!,
    honestResult,
    honestOutput: async (requestId, prompt) => (await honestResult(requestId, prompt)).output,
    async stop() {
      for (const node of nodes) await node.stop().catch(() => {});
      await engine.stop();
      await network.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
