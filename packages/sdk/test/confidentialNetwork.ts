import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTask,
  getAttestation,
  nodeRegistryAbi,
  SecurityLevel,
  setAllowedMeasurement,
  setDevAttestation,
  setNodeUrl,
} from "@atoma/chain";
import {
  createDevAuthority,
  type DevAuthority,
  type HexString,
  issueDevAttestationKey,
  type TdMeasurements,
} from "@atoma/confidential";
import { measurementHash } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { type AtomaNode, ConfidentialCompute, devEvidenceSource } from "@atoma/node";
import { apiNode, startTinyEngine, waitFor } from "@atoma/node/devnet";
import {
  PRICE,
  type RegisteredNode,
  type StackNetwork,
  startStackNetwork,
} from "../../node/test/helpers/stackNetwork.js";
import { type Relay, startRelay } from "./relay.js";

const register = (byte: string) => `0x${byte.repeat(48)}` as HexString;
/** What the dev nodes' evidence measures; the confidential task allows it on-chain. */
export const MEASURED: TdMeasurements = {
  mrTd: register("c4"),
  rtmr0: register("b0"),
  rtmr1: register("b1"),
  rtmr2: register("b2"),
  rtmr3: register("b3"),
};

export interface ConfidentialNode {
  registered: RegisteredNode;
  node: AtomaNode;
  compute: ConfidentialCompute;
  /** The URL registered on-chain: every request to the node crosses it, captured (and rewritten when a test says). */
  relay: Relay;
  /** The node's GPU evidence: the token its evidence source attaches for a quote's report data (none while unset). */
  gpu: { token?: ((reportData: Uint8Array) => Promise<string | undefined>) | undefined };
}

/** `atoma dev`'s network in miniature: anvil, the contracts, two confidential dev nodes over one tiny engine. */
export interface ConfidentialNetwork {
  network: StackNetwork;
  model: TinyModelFile;
  authority: DevAuthority;
  /** A (the cheaper) and B, both on the level-3 task, behind their relays. */
  nodes: [ConfidentialNode, ConfidentialNode];
  confidentialTask: bigint;
  /** A level-0 task on the same model, A serving it: requests in clear. */
  plainTask: bigint;
  /** In front of anvil: every JSON-RPC body a client sends. */
  rpcRelay: Relay;
  /** A network description as a client reads it (the RPC through `rpcRelay`); `dev: false` leaves the dev root out. */
  networkText(options?: { dev?: boolean }): string;
  chainEpoch(): Promise<bigint>;
  stop(): Promise<void>;
}

/** `quoteDefaults`: the nodes keep ConfidentialCompute's default fresh-quote budget (else one for many clients). */
export async function startConfidentialNetwork(
  options: { quoteDefaults?: boolean } = {},
): Promise<ConfidentialNetwork> {
  const root = mkdtempSync(join(tmpdir(), "atoma-sdk-confidential-"));
  const network = await startStackNetwork();
  const { engine, model } = (await startTinyEngine()) as { engine: EmbeddedEngine; model: TinyModelFile };
  const authority = await createDevAuthority();
  const registered = await network.registerNodes(2);
  const nodes: ConfidentialNode[] = [];
  for (const [index, node] of registered.entries()) {
    const gpu: ConfidentialNode["gpu"] = {};
    const compute = new ConfidentialCompute({
      source: devEvidenceSource(await issueDevAttestationKey(authority), MEASURED, {
        gpuToken: async (reportData) => gpu.token?.(reportData),
      }),
      signingAddress: node.signerAccount.address,
      // Every client here asks from 127.0.0.1: a budget for many (the per-source one is tested in the node).
      ...(!options.quoteDefaults && {
        quotesPerSecond: 100,
        quoteBurst: 100,
        quotesPerSecondPerSource: 100,
        quoteBurstPerSource: 100,
      }),
    });
    const started = apiNode({
      network,
      node,
      engine,
      model,
      dataDir: join(root, `node-${index}`),
      // The epoch is checked once an hour: a record is posted at start (and on a test's demand).
      confidential: { compute, epochPollMs: 3_600_000, postRetryDelaysMs: [50] },
      postAttestations: true,
    }).node;
    await started.start();
    const relay = await startRelay(started.url);
    await setNodeUrl(node.operator, { nodeId: node.nodeId, url: relay.url });
    nodes.push({ registered: node, node: started, compute, relay, gpu });
  }
  for (const { registered: node } of nodes)
    await waitFor(
      `node ${node.nodeId}'s attestation record`,
      async () => (await getAttestation(network.admin, node.nodeId)) !== undefined,
      20_000,
    );
  const { taskId: confidentialTask } = await createTask(network.admin, {
    modelId: network.modelId,
    role: 0,
    securityLevel: SecurityLevel.Confidential,
  });
  await setAllowedMeasurement(network.admin, {
    taskId: confidentialTask,
    measurement: measurementHash("dev", MEASURED),
    allowed: true,
  });
  await setDevAttestation(network.admin, { taskId: confidentialTask, allowed: true });
  // A is cheaper: a client sorting by price starts there.
  await network.subscribe(nodes[0]!.registered, confidentialTask, { pricePerMillion: PRICE / 2n });
  await network.subscribe(nodes[1]!.registered, confidentialTask, { pricePerMillion: PRICE });
  const plainTask = await network.newTask([nodes[0]!.registered]);
  await network.nextEpoch();
  const rpcRelay = await startRelay(network.anvil.rpcUrl);
  const chainEpoch = () =>
    network.publicClient.readContract({
      address: network.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "currentEpoch",
    });
  return {
    network,
    model,
    authority,
    nodes: nodes as [ConfidentialNode, ConfidentialNode],
    confidentialTask,
    plainTask,
    rpcRelay,
    chainEpoch,
    networkText: (options = {}) =>
      JSON.stringify({
        rpcUrl: rpcRelay.url,
        chainId: network.anvil.chainId,
        contracts: network.nodeContracts,
        model: model.id,
        ...(options.dev !== false && {
          attestation: { kind: "dev", rootCertificatePem: authority.rootCertificatePem },
        }),
      }),
    stop: async () => {
      for (const { node, relay } of nodes) {
        await relay.close();
        await node.stop();
      }
      await rpcRelay.close();
      await engine.stop();
      await network.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
