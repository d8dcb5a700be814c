import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { evidenceHash, measurementHash } from "@atoma/core";
import { type Hex, keccak256, parseEther, stringToBytes, toHex } from "viem";
import { setAllowedMeasurement, setDevAttestation } from "../src/actions/attestationGovernance.js";
import { finalizeSettlement } from "../src/actions/finalizeSettlement.js";
import { postAttestation } from "../src/actions/postAttestation.js";
import { servedEvidenceTypedData } from "../src/actions/reportUnposted.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import type { DevNode, Devnet } from "../src/devnet/index.js";
import { startDevnet } from "../src/devnet/index.js";
import { nodeRegistryAbi, SecurityLevel } from "../src/portable.js";

const register = (label: string): Hex =>
  `0x${keccak256(stringToBytes(label)).slice(2)}${keccak256(stringToBytes(`${label}+`)).slice(2, 34)}`;
const REGISTERS = {
  mrTd: register("mrtd"),
  rtmr0: register("rtmr0"),
  rtmr1: register("rtmr1"),
  rtmr2: register("rtmr2"),
  rtmr3: register("rtmr3"),
};

/**
 * A dev chain with one level-3 task (dev evidence allowed) and level-3 nodes whose `GET /v1/attestation` (a real HTTP
 * socket) serves what the test sets: the epoch evidence and the `ServedEvidence` statement a node's signer signed,
 * true (`serveStatement(node, await attest(node))`) or a lie (a hash it never posted). For the refund claimers'
 * tests (issue 14, C-2: the gateway's watcher, the SDK's `claimRefunds`).
 */
export interface LevelThreeLiars {
  devnet: Devnet;
  taskId: bigint;
  /** Registers a node serving the attestation set for it, attested and subscribed to the task. */
  addNode(): Promise<DevNode & { url: string }>;
  /** Posts fresh dev evidence for the node (valid 2 h); its hash. */
  attest(node: DevNode): Promise<Hex>;
  /**
   * The node serves, beside its epoch evidence, its signed statement that `hash` is its record for this epoch (or
   * `epoch`: one to come, or long past).
   */
  serveStatement(
    node: DevNode,
    hash: Hex,
    epoch?: bigint,
  ): Promise<{ nodeId: bigint; epoch: bigint; evidenceHash: Hex; signature: Hex }>;
  currentEpoch(): Promise<bigint>;
  /** The node settles each stack (`units` used) and, past the dispute window, anyone finalizes them. */
  settleAndFinalize(node: DevNode, stackIds: bigint[], units?: bigint): Promise<void>;
  stop(): Promise<void>;
}

export async function startLevelThreeLiars(model: string): Promise<LevelThreeLiars> {
  const devnet = await startDevnet();
  const { modelId } = await devnet.registerModel({ name: model });
  const taskId = await devnet.addTask({ modelId, securityLevel: SecurityLevel.Confidential });
  await setAllowedMeasurement(devnet.admin, {
    taskId,
    measurement: measurementHash("dev", REGISTERS),
    allowed: true,
  });
  await setDevAttestation(devnet.admin, { taskId, allowed: true });
  const served = new Map<bigint, unknown>();
  const servers: Server[] = [];
  let quotes = 0;
  const currentEpoch = () =>
    devnet.admin.publicClient.readContract({
      address: devnet.deployment.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      functionName: "currentEpoch",
    });
  const attest = async (node: DevNode): Promise<Hex> => {
    const quote = toHex(stringToBytes(`liars quote ${++quotes}`));
    const hash = evidenceHash("dev", quote);
    await postAttestation(node.operator, {
      nodeId: node.nodeId,
      kind: "dev",
      evidenceHash: hash,
      encryptionKey: keccak256(quote),
      measurement: measurementHash("dev", REGISTERS),
      expiresAt: (await devnet.now()) + 7_200n,
    });
    return hash;
  };
  return {
    devnet,
    taskId,
    currentEpoch,
    attest,
    async addNode() {
      let nodeId = -1n;
      const server = createServer((req, res) => {
        const body = served.get(nodeId);
        res.writeHead(body && req.url?.startsWith("/v1/attestation") ? 200 : 503, {
          "content-type": "application/json",
        });
        res.end(JSON.stringify(body ?? { error: { code: "attestation_unavailable" } }));
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const node = await devnet.addNode({ url });
      nodeId = node.nodeId;
      await attest(node);
      await devnet.subscribe(node, taskId, { collateral: parseEther("900") });
      return { ...node, url };
    },
    async serveStatement(node, hash, at) {
      const epoch = at ?? (await currentEpoch());
      const statement = { nodeId: node.nodeId, epoch, evidenceHash: hash };
      const signature = await node.signerAccount.signTypedData(
        servedEvidenceTypedData(
          devnet.anvil.chainId,
          devnet.deployment.addresses.AttestationRegistry,
          statement,
        ),
      );
      served.set(node.nodeId, {
        object: "atoma.attestation",
        signing_address: node.signerAccount.address,
        freshness: { kind: "epoch", epoch: epoch.toString() },
        evidence: { kind: "dev", quote: "0x00" },
        statement: {
          node_id: node.nodeId.toString(),
          epoch: epoch.toString(),
          evidence_hash: hash,
          signature,
        },
      });
      return { ...statement, signature };
    },
    async settleAndFinalize(node, stackIds, units = 50_000n) {
      for (const stackId of stackIds)
        await submitSettlement(node.signer, {
          stackId,
          root: keccak256(stringToBytes(`served ${stackId}`)),
          units,
          requestCount: 1n,
          transcriptId: `0x${"ab".repeat(32)}`,
        });
      await devnet.advance(3_600);
      await finalizeSettlement((await devnet.account()).ctx, { stackIds });
    },
    async stop() {
      for (const server of servers) server.close();
      await devnet.stop();
    },
  };
}
