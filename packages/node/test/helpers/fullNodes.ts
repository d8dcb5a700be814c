import { randomBytes } from "node:crypto";
import { setNodeUrl } from "@atoma/chain";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import type { TestNetwork, TestNode } from "../../../chain/test/network.js";
import { devNodeConfig } from "../../src/devnet/devNodeConfig.js";
import { type AtomaNode, createNode } from "../../src/service/createNode.js";
import { defaultNodeParts } from "../../src/service/defaultParts.js";

export interface FullNodeOptions {
  engine: EmbeddedEngine;
  model: TinyModelFile;
  dataDir: string;
  /** PostgreSQL URL: the node's tables go in a fresh schema there (returned, to drop it afterwards). */
  postgresUrl?: string | undefined;
  /** Settlement options over the test defaults (a 100 ms scan). */
  settlement?: Record<string, unknown> | undefined;
}

/**
 * A registered node running every production part (`defaultNodeParts()`) in this process, over the shared
 * engine, with fast polling; once it listens, its operator moves its on-chain URL to where it really is, so
 * attesters fetch its transcripts there.
 */
export async function startFullNode(
  network: TestNetwork,
  registered: TestNode,
  options: FullNodeOptions,
): Promise<{ node: AtomaNode; schema: string | undefined }> {
  const schema = options.postgresUrl
    ? `atoma_net_${process.pid}_${randomBytes(4).toString("hex")}`
    : undefined;
  const config = devNodeConfig(network, {
    node: { dataDir: options.dataDir, shutdownTimeoutMs: 2_000 },
    model: { path: options.model.path, id: options.model.id },
    limits: { maxPromptTokens: 200 },
    settlement: { pollIntervalMs: 100, ...options.settlement },
    ...(options.postgresUrl ? { database: { url: options.postgresUrl, schema, poolSize: 4 } } : {}),
  });
  const node = createNode(
    { account: registered.signerAccount, engine: options.engine, parts: defaultNodeParts() },
    config,
  );
  await node.start();
  await setNodeUrl(registered.operator, { nodeId: registered.nodeId, url: node.url });
  return { node, schema };
}
