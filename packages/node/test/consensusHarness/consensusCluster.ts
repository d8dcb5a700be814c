import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type InferenceEngine } from "@atoma/engine";
import { type Address, type Hex, parseEther } from "viem";
import { type NodeConfig, parseNodeConfig } from "../../src/config/loadConfig.js";
import { consensusChatBody, consensusSeed, outputBytes } from "../../src/consensus/consensusBody.js";
import { consensusPart } from "../../src/consensus/consensusPart.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import { type ChainNode, type ConsensusNetwork, startConsensusNetwork } from "./consensusNetwork.js";
import { rewritingEngine } from "./rewritingEngine.js";

export const MODEL = "atoma-tiny";
export const CHEAP_MODEL = "atoma-tiny-s2";
export const PRICE = parseEther("2");
export const ECHELON = 2;
export const MAX_UNITS = 200n;
export const MAX_OUTPUT_TOKENS = 24;

/**
 * Seven in-process nodes on one anvil, sharing one embedded engine over the tiny model: six honest ones and, last,
 * a cheater whose engine runs the tiny model of another seed. `honestTask` is drawn at PRICE among the first three
 * only (nodes 4–6 ask twice as much); `cheatTask` is drawn at PRICE among the cheater and the first two (nodes 3–5
 * ask twice as much), so a request at PRICE always samples the cheater and its dispute committee is nodes 3–5.
 * A request is accepted only when the echelon's pool of its task, at any price, holds n + the dispute committee
 * minimum (3 here): each task holds six nodes, room for n = 3 — and `honestTask` keeps it once the cheater is
 * slashed, which is why it has a node of its own (node 6) rather than the cheater.
 */
export interface ConsensusCluster {
  network: ConsensusNetwork;
  engine: EmbeddedEngine;
  chainNodes: ChainNode[];
  nodes: AtomaNode[];
  cheater: ChainNode;
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

export async function startConsensusCluster(): Promise<ConsensusCluster> {
  const root = mkdtempSync(join(tmpdir(), "atoma-consensus-"));
  const network = await startConsensusNetwork(MODEL);
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

  const chainNodes: ChainNode[] = [];
  for (let i = 0; i < 7; i++) chainNodes.push(await network.addNode(ECHELON));
  const [h1, h2, h3, h4, h5, h6, cheater] = chainNodes as [
    ChainNode,
    ChainNode,
    ChainNode,
    ChainNode,
    ChainNode,
    ChainNode,
    ChainNode,
  ];
  const honestTask = await network.consensusTask([
    ...[h1, h2, h3].map((node) => ({ node, pricePerMillion: PRICE })),
    ...[h4, h5, h6].map((node) => ({ node, pricePerMillion: 2n * PRICE })),
  ]);
  const cheatTask = await network.consensusTask([
    ...[cheater, h1, h2].map((node) => ({ node, pricePerMillion: PRICE })),
    ...[h3, h4, h5].map((node) => ({ node, pricePerMillion: 2n * PRICE })),
  ]);
  await network.advance(3_600); // nodes are eligible from the epoch after they registered

  const contracts = Object.fromEntries(
    Object.entries(network.deployment.addresses).filter(([, address]) => address !== undefined),
  ) as Record<string, Address>;
  const configFor = (name: string) =>
    parseNodeConfig(
      {
        chain: {
          rpcUrl: network.anvil.rpcUrl,
          chainId: network.anvil.chainId,
          contracts,
          pollingIntervalMs: 50,
        },
        node: { keyFile: "unused.key", port: 0, dataDir: join(root, name), shutdownTimeoutMs: 1_000 },
        model: { path: honest.path, id: MODEL },
        metrics: { enabled: false },
      },
      root,
    );
  const nodes = chainNodes.map((chainNode, i) => {
    const config = configFor(`node-${i}`);
    const nodeEngine: InferenceEngine =
      chainNode === cheater ? rewritingEngine(engine, MODEL, CHEAP_MODEL) : engine;
    return createNode(
      {
        account: chainNode.signer,
        engine: nodeEngine,
        parts: [consensusPart({ pollIntervalMs: 100, maxOutputTokens: MAX_OUTPUT_TOKENS, turnGraceMs: 300 })],
      },
      config,
    );
  });
  for (const node of nodes) await node.start();

  const honestResult = async (requestId: bigint, prompt: Hex) => {
    const { messages } = consensusChatBody({ model: MODEL, prompt, seed: 0 }) as { messages: unknown };
    const { count } = await engine.tokenize({ model: MODEL, messages });
    const maxTokens = Math.min(MAX_OUTPUT_TOKENS, Number(MAX_UNITS) - count);
    const seed = consensusSeed(network.deployment.addresses.ConsensusRequests, requestId);
    const { response } = await engine.chat(consensusChatBody({ model: MODEL, prompt, seed, maxTokens }));
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

/** Polls `probe` until it returns a value. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 150_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
