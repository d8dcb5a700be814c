import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Anvil,
  approveEchelon,
  type ChainContext,
  createAtomaPublicClient,
  createAtomaTestClient,
  createAtomaWalletClient,
  deployContracts,
  devAccounts,
  registerNode,
  startAnvil,
} from "@atoma/chain";
import type { Hash, Logger } from "@atoma/core";
import { ensureTinyModel, fingerprintEmbeddedOptions, RemoteEngine } from "@atoma/engine";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type NodeConfig, parseNodeConfig } from "../config/loadConfig.js";
import { loadKeyFile, writeDevKeyFile } from "../keys/keyFile.js";
import { type AtomaNode, createNode } from "../service/createNode.js";
import { fingerprintOfConfig } from "./configFingerprint.js";
import { EchelonFingerprintGate } from "./echelonFingerprintGate.js";
import { EchelonFingerprintMismatchError, EchelonFingerprintUnknownError } from "./fingerprintErrors.js";
import type { FingerprintBody } from "./fingerprintPart.js";
import { fingerprintPart } from "./fingerprintPart.js";
import { configuredEngineOptions } from "./nodeEngine.js";

interface LogLine {
  level: string;
  obj: object;
  msg: string | undefined;
}

/** A logger that keeps every line, to read what the node said and why. */
function recordingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj, msg });
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return logger;
}

const root = mkdtempSync(join(tmpdir(), "atoma-fingerprint-"));
const tiny = ensureTinyModel();
let anvil: Anvil;
let keyFile: string;
let config: NodeConfig;
/** What an echelon that runs batch size 64 approved: this node, at 512, computes other numbers. */
let otherEchelon: Hash;
let admin: ChainContext;
let rpc: { rpcUrl: string; chainId: number };

beforeAll(async () => {
  anvil = await startAnvil();
  const chain = { rpcUrl: anvil.rpcUrl, chainId: anvil.chainId };
  const publicClient = createAtomaPublicClient(chain);
  const [deployer] = await devAccounts(chain);
  const walletClient = createAtomaWalletClient(chain, { address: deployer!, type: "json-rpc" });
  const { addresses } = await deployContracts(publicClient, walletClient);
  admin = { publicClient, walletClient, addresses };
  rpc = chain;
  keyFile = join(root, "keys", "node.key");
  await writeDevKeyFile(keyFile);
  config = parseNodeConfig(
    {
      chain: { ...chain, contracts: { NodeRegistry: addresses.NodeRegistry }, pollingIntervalMs: 20 },
      node: { keyFile, port: 0, dataDir: join(root, "data"), shutdownTimeoutMs: 2_000 },
      model: { path: tiny.path, id: "atoma-tiny", engine: { threads: 1, contextSize: 1024 } },
    },
    root,
  );
  otherEchelon = (await fingerprintEmbeddedOptions({ ...configuredEngineOptions(config), batchSize: 64 }))
    .fingerprint;
});
afterAll(async () => {
  await anvil?.stop();
  rmSync(root, { recursive: true, force: true });
});

const started: AtomaNode[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((node) => node.stop()));
});

async function served(node: AtomaNode): Promise<FingerprintBody> {
  const response = await fetch(`${node.url}/v1/node/fingerprint`);
  expect(response.status).toBe(200);
  return (await response.json()) as FingerprintBody;
}

describe("the node's echelon fingerprint", () => {
  it("is computed at start with the engine's exact settings, served, and what the CLI's computation gives", async () => {
    const offline = await fingerprintOfConfig(config);
    const lines: LogLine[] = [];
    const logger = recordingLogger(lines);
    const gate = new EchelonFingerprintGate({ logger });
    const node = createNode(
      { logger, parts: [fingerprintPart({ gate, expected: async () => offline.fingerprint })] },
      config,
    );
    started.push(node);
    await node.start();
    const body = await served(node);
    expect(body).toMatchObject({
      object: "atoma.node_fingerprint",
      fingerprint: offline.fingerprint,
      echelon_fingerprint: offline.fingerprint,
    });
    expect(body.probe?.settings).toEqual({
      contextSize: 1024,
      batchSize: 512,
      threads: 1,
      flashAttention: false,
    });
    expect(body.probe?.numerics).toBe(offline.numerics);
    expect(gate.checkEchelonFingerprint(offline.fingerprint, "an attestation duty")).toBe("match");

    // Governance later approves another fingerprint for the echelon: the next duty is refused, and the log says why.
    expect(() => gate.checkEchelonFingerprint(otherEchelon, "an attestation duty")).toThrow(
      EchelonFingerprintMismatchError,
    );
    const refusal = lines.find((line) => line.level === "error");
    expect(refusal?.msg).toContain("refusing an attestation duty");
    expect(refusal?.msg).toContain(offline.fingerprint);
    expect(refusal?.obj).toMatchObject({ expected: otherEchelon, local: offline.fingerprint });
  });

  it("refuses to start when its echelon approved other numerics (an honest node that would be slashed)", async () => {
    const lines: LogLine[] = [];
    const node = createNode(
      {
        logger: recordingLogger(lines),
        parts: [fingerprintPart({ expected: async () => otherEchelon })],
      },
      config,
    );
    started.push(node);
    const start = node.start();
    await expect(start).rejects.toBeInstanceOf(EchelonFingerprintMismatchError);
    await expect(start).rejects.toMatchObject({
      code: "echelon_fingerprint_mismatch",
      expected: otherEchelon,
    });
    const refusal = lines.find((line) => line.level === "error" && line.msg?.includes("refusing"));
    expect(refusal?.msg).toContain("to serve its echelon's verified tasks");
    expect(refusal?.msg).toContain(`its echelon approved ${otherEchelon}`);
  });

  it("starts unchecked, and says so, when the echelon has no approved fingerprint (undefined or bytes32(0))", async () => {
    for (const none of [undefined, `0x${"0".repeat(64)}` as Hash]) {
      const lines: LogLine[] = [];
      const node = createNode(
        { logger: recordingLogger(lines), parts: [fingerprintPart({ expected: async () => none })] },
        config,
      );
      started.push(node);
      await node.start();
      expect((await served(node)).fingerprint).toMatch(/^0x[0-9a-f]{64}$/);
      expect(
        lines.some((line) => line.level === "warn" && line.msg?.includes("no approved fingerprint")),
      ).toBe(true);
      await node.stop();
    }
  });

  it("a remote engine has no fingerprint: served as such, and refused where its echelon approved one", async () => {
    const remote = () =>
      new RemoteEngine({ logger: recordingLogger([]) }, { upstreams: [{ url: "http://127.0.0.1:9/v1" }] });
    const open = createNode(
      { engine: remote(), parts: [fingerprintPart({ expected: async () => undefined })] },
      config,
    );
    started.push(open);
    await open.start();
    const body = await served(open);
    expect(body.fingerprint).toBeNull();
    expect(body.reason).toContain("remote engine cannot run the fingerprint probe");
    await open.stop();

    const checked = createNode(
      { engine: remote(), parts: [fingerprintPart({ expected: async () => otherEchelon })] },
      config,
    );
    started.push(checked);
    await expect(checked.start()).rejects.toBeInstanceOf(EchelonFingerprintUnknownError);
  });

  it("reads its echelon's fingerprint from the NodeRegistry: it serves where the echelon approved its numerics, and refuses where governance approved others", async () => {
    const offline = await fingerprintOfConfig(config);
    await approveEchelon(admin, { echelon: 4, fingerprint: offline.fingerprint });
    // An unregistered node belongs to no echelon yet: it starts, unchecked.
    const unregistered = createNode({ logger: recordingLogger([]), parts: [fingerprintPart()] }, config);
    started.push(unregistered);
    await unregistered.start();
    expect((await served(unregistered)).echelon_fingerprint).toBeNull();
    await unregistered.stop();

    // The node's own key registers it (operator and signer at once) in the echelon of its numerics.
    const key = loadKeyFile(keyFile);
    await createAtomaTestClient(rpc).setBalance({ address: key.address, value: 10n ** 20n });
    await admin.publicClient.waitForTransactionReceipt({
      hash: await admin.walletClient.writeContract({
        address: admin.addresses.AtomaToken,
        abi: (await import("@atoma/contracts")).atomaTokenAbi,
        functionName: "transfer",
        args: [key.address, 10n ** 22n],
      }),
    });
    const own: ChainContext = { ...admin, walletClient: createAtomaWalletClient(rpc, key) };
    const { nodeId } = await registerNode(own, {
      signer: key,
      url: "http://127.0.0.1:1",
      echelon: 4,
      collateral: 10n ** 21n * 5n,
    });
    const node = createNode({ logger: recordingLogger([]), parts: [fingerprintPart()] }, config);
    started.push(node);
    await node.start();
    expect(await served(node)).toMatchObject({
      fingerprint: offline.fingerprint,
      echelon_fingerprint: offline.fingerprint,
    });
    await node.stop();

    // Governance moves the echelon to numerics this node does not compute: the node refuses, and says why.
    await approveEchelon(admin, { echelon: 4, fingerprint: otherEchelon });
    const lines: LogLine[] = [];
    const refused = createNode({ logger: recordingLogger(lines), parts: [fingerprintPart()] }, config);
    started.push(refused);
    await expect(refused.start()).rejects.toMatchObject({
      code: "echelon_fingerprint_mismatch",
      expected: otherEchelon,
      local: offline.fingerprint,
    });
    expect(nodeId).toBeGreaterThan(0n);
  });
});
