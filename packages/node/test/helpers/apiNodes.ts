import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Logger, silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type TinyModelFile } from "@atoma/engine";
import { StackClient } from "@atoma/sdk";
import pg from "pg";
import type { LocalAccount } from "viem";
import { getStack } from "../../src/accounting/stacks.js";
import { stackApiPart } from "../../src/api/stackApiPart.js";
import { parseNodeConfig } from "../../src/config/loadConfig.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import type { RegisteredNode, StackNetwork } from "./stackNetwork.js";

/** One engine over the tiny model, shared by every node of a test file (deterministic settings). */
export async function startTinyEngine(
  contextSize = 512,
): Promise<{ engine: EmbeddedEngine; model: TinyModelFile }> {
  const model = ensureTinyModel();
  const engine = new EmbeddedEngine(
    { logger: silentLogger },
    { models: [{ id: model.id, path: model.path }], threads: 1, contextSize, sequences: 4 },
  );
  await engine.start();
  return { engine, model };
}

export interface ApiNodeOptions {
  network: StackNetwork;
  node: RegisteredNode;
  engine: EmbeddedEngine;
  model: TinyModelFile;
  dataDir: string;
  /** PostgreSQL URL: the node's tables go in a fresh schema there. */
  postgresUrl?: string | undefined;
  limits?: Record<string, number> | undefined;
  /** The API's clock (unix ms). @default Date.now */
  now?: (() => number) | undefined;
  /** How often the listener polls the chain. @default 20 */
  pollingIntervalMs?: number | undefined;
  /** Where the node logs. @default silentLogger */
  logger?: Logger | undefined;
}

/** An in-process node with the stack API, over the shared engine. */
export function apiNode(options: ApiNodeOptions): { node: AtomaNode; schema: string | undefined } {
  const schema = options.postgresUrl
    ? `atoma_api_${process.pid}_${randomBytes(4).toString("hex")}`
    : undefined;
  const config = parseNodeConfig(
    {
      chain: {
        rpcUrl: options.network.anvil.rpcUrl,
        chainId: options.network.anvil.chainId,
        contracts: options.network.contracts,
        pollingIntervalMs: options.pollingIntervalMs ?? 20,
      },
      node: {
        keyFile: join(options.dataDir, "unused.key"),
        port: 0,
        dataDir: options.dataDir,
        shutdownTimeoutMs: 2_000,
      },
      model: { path: options.model.path, id: options.model.id },
      limits: { maxPromptTokens: 200, ...options.limits },
      ...(options.postgresUrl ? { database: { url: options.postgresUrl, schema } } : {}),
    },
    options.dataDir,
  );
  const node = createNode(
    {
      account: options.node.account,
      engine: options.engine,
      logger: options.logger,
      parts: [stackApiPart({ now: options.now })],
    },
    config,
  );
  return { node, schema };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

/** The owner's SDK client for a stack its node serves. */
export function stackClientFor(
  network: StackNetwork,
  server: RegisteredNode,
  node: AtomaNode,
  owner: LocalAccount,
  stackId: bigint,
): StackClient {
  return new StackClient({
    nodeUrl: node.url,
    account: owner,
    stackId,
    chainId: network.anvil.chainId,
    stackManager: network.addresses.StackManager,
    nodeSigner: server.account.address,
    nodeId: server.nodeId,
  });
}

/** Polls until the node's listener has recorded the stack. */
export async function waitForStack(node: AtomaNode, stackId: bigint, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await getStack(node.context.db, stackId))) {
    if (Date.now() > deadline) throw new Error(`stack ${stackId} never reached the node`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
