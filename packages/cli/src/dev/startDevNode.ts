import { join } from "node:path";
import type { Logger } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { type AtomaNode, createNode, defaultNodeParts, fingerprintPart, weightsCheckPart } from "@atoma/node";
import { type DevnetEndpoint, devNodeConfig } from "@atoma/node/devnet";
import type { ProvisionedNode } from "./provisionDevNode.js";
import type { ServedModel } from "./servedModel.js";

export interface DevNodeEnvironment {
  network: DevnetEndpoint;
  model: ServedModel;
  /** The one engine every dev node shares (started and stopped by the caller). */
  engine: InferenceEngine;
  logger: Logger;
  /** The node's dev attestation key file: it runs confidential compute with the (insecure) dev kind. */
  devAttestationKeyFile?: string | undefined;
}

/** Starts a provisioned dev node in this process, with its own embedded database under `dir`. */
export async function startDevNode(
  provisioned: ProvisionedNode,
  dir: string,
  env: DevNodeEnvironment,
): Promise<AtomaNode> {
  const config = devNodeConfig(
    env.network,
    {
      chain: { pollingIntervalMs: 100 },
      node: {
        keyFile: provisioned.keyFile,
        port: provisioned.port,
        dataDir: join(dir, "data"),
        shutdownTimeoutMs: 2_000,
      },
      model: { path: env.model.path, id: env.model.id, weightsRoot: env.model.weightsRoot },
      ...(env.devAttestationKeyFile
        ? {
            confidential: {
              kind: "dev",
              devKeyFile: env.devAttestationKeyFile,
              // Every local client (the CLI, the gateway, the explorer) comes from 127.0.0.1: one source's share of
              // fresh quotes is the whole budget here, or the third `atoma attest` in a row would be refused.
              quotesPerSecondPerSource: 2,
              quoteBurstPerSource: 8,
            },
          }
        : {}),
    },
    dir,
  );
  const node = createNode(
    // Like `atoma node start`: the weights and the echelon's fingerprint are checked against the chain first.
    {
      logger: env.logger,
      engine: env.engine,
      parts: [weightsCheckPart(), fingerprintPart(), ...defaultNodeParts()],
    },
    config,
  );
  await node.start();
  return node;
}
