import { randomBytes } from "node:crypto";
import type { DevNode } from "@atoma/chain/devnet";
import type { Logger } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { getStack } from "../accounting/stacks.js";
import { type StackApiOptions, stackApiPart } from "../api/stackApiPart.js";
import type { NodeConfigInput } from "../config/schema.js";
import { type AtomaNode, createNode } from "../service/createNode.js";
import { type DevnetEndpoint, devNodeConfig } from "./devNodeConfig.js";
import { DevnetTimeoutError } from "./devnetTimeoutError.js";

export interface ApiNodeOptions {
  network: DevnetEndpoint;
  /** The registered node it runs as. */
  node: Pick<DevNode, "signerAccount">;
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
  /** The port it listens on (the URL registered on-chain must reach it). @default 0: any free one */
  port?: number | undefined;
  /** Where the node logs. @default silentLogger */
  logger?: Logger | undefined;
  /** Run as a confidential node (security level 3) with these keys and evidence. */
  confidential?: StackApiOptions["confidential"];
  /** Or as the `[confidential]` section of its configuration says. */
  confidentialConfig?: NodeConfigInput["confidential"];
  /** Name the AttestationRegistry too: a confidential node then posts its attestation record each epoch. */
  postAttestations?: boolean | undefined;
}

/**
 * An in-process node with only the stack API, over a shared engine. Its configuration names only the
 * StackManager and the NodeRegistry, what the stack API needs (and the AttestationRegistry with `postAttestations`).
 */
export function apiNode(options: ApiNodeOptions): { node: AtomaNode; schema: string | undefined } {
  const schema = options.postgresUrl
    ? `atoma_api_${process.pid}_${randomBytes(4).toString("hex")}`
    : undefined;
  const { StackManager, NodeRegistry, AttestationRegistry } = options.network.nodeContracts;
  const config = devNodeConfig(options.network, {
    chain: {
      contracts: {
        StackManager: StackManager!,
        NodeRegistry: NodeRegistry!,
        ...(options.postAttestations && AttestationRegistry ? { AttestationRegistry } : {}),
      },
      pollingIntervalMs: options.pollingIntervalMs ?? 20,
    },
    node: { dataDir: options.dataDir, shutdownTimeoutMs: 2_000, port: options.port ?? 0 },
    model: { path: options.model.path, id: options.model.id },
    limits: { maxPromptTokens: 200, ...options.limits },
    ...(options.confidentialConfig ? { confidential: options.confidentialConfig } : {}),
    ...(options.postgresUrl ? { database: { url: options.postgresUrl, schema } } : {}),
  });
  const node = createNode(
    {
      account: options.node.signerAccount,
      engine: options.engine,
      logger: options.logger,
      parts: [stackApiPart({ now: options.now, confidential: options.confidential })],
    },
    config,
  );
  return { node, schema };
}

/** Polls until the node's listener has recorded the stack. */
export async function waitForStack(node: AtomaNode, stackId: bigint, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await getStack(node.context.db, stackId))) {
    if (Date.now() > deadline) throw new DevnetTimeoutError(`stack ${stackId} never reached the node`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
