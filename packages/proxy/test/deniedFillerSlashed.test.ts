import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getNode, getSettlement, NodeStatus, SecurityLevel, SettlementPhase } from "@atoma/chain";
import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { receiptFraudAbi } from "@atoma/contracts";
import { atomaDomain, leafDenialToWire, requestHash, STACK_HEADERS, signLeafDenial } from "@atoma/core";
import { createNode, defaultNodeParts } from "@atoma/node";
import { devNodeConfig, startTinyEngine } from "@atoma/node/devnet";
import { parseEther } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProxyConfig } from "../src/config/proxyConfig.js";
import { type Gateway, startGateway } from "../src/service/startGateway.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

// Review of the signed leaf denials, M1, end to end: a node answers a request 409 `leaf_denied` with a denial signed by
// its own key (one it never recorded), refuses the one-token filler the gateway sends at that nonce next, and commits
// the denied request there all the same (it holds the owner's signature), then settles it. The gateway had checked
// that denial and dropped it: nothing to prove. Kept with the freed nonce, it is the fraud proof the watcher sends.
describe("a real node that denies a request, refuses its filler, and settles the request", () => {
  let network: Devnet;
  let gateway: Gateway;
  let interposer: Server;
  let stopAll: () => Promise<void> = async () => {};
  const dir = mkdtempSync(join(tmpdir(), "atoma-denied-filler-"));
  let nodeId: bigint;
  /** The next POST: committed at the node, answered leaf_denied (signed); the one after refused outright. */
  const operator = { denyNext: false, refuseNext: false, denied: 0, refused: 0 };

  beforeAll(async () => {
    network = await startDevnet();
    const { engine, model } = await startTinyEngine({ id: "atoma-tiny" });
    const { modelId } = await network.registerModel({ name: "atoma-tiny" });
    const [nodePort, frontPort] = [await freePort(), await freePort()];
    const server = await network.addNode({ url: `http://127.0.0.1:${frontPort}` });
    nodeId = server.nodeId;
    const taskId = await network.addTask({ modelId, securityLevel: SecurityLevel.None });
    await network.subscribe(server, taskId, { collateral: parseEther("900") });
    await network.nextEpoch();
    const node = createNode(
      { account: server.signerAccount, engine, parts: defaultNodeParts() },
      devNodeConfig(network, {
        chain: { pollingIntervalMs: 250 },
        node: { dataDir: join(dir, "node"), shutdownTimeoutMs: 2_000, port: nodePort },
        model: { path: model.path, id: model.id },
        limits: { maxPromptTokens: 200 },
        settlement: { pollIntervalMs: 200 },
      }),
    );
    await node.start();
    const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
    interposer = createServer((req, res) => {
      const path = req.url ?? "/";
      if (req.method === "POST" && operator.refuseNext && !operator.denyNext) {
        operator.refuseNext = false;
        operator.refused++;
        req.resume();
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: { message: "no", type: "invalid_request_error", param: null, code: "bad" },
          }),
        );
        return;
      }
      const deny = operator.denyNext && req.method === "POST";
      if (deny) operator.denyNext = false;
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const sent = Buffer.concat(chunks);
        const upstream = httpRequest(
          { host: "127.0.0.1", port: nodePort, method: req.method, path, headers: req.headers },
          (answer) => {
            if (!deny) {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(res);
              return;
            }
            // The node answers (and commits) the request; the gateway is told it was denied there.
            answer.resume();
            answer.on("end", () => {
              const fields = {
                stackId: BigInt(String(req.headers[STACK_HEADERS.stack])),
                nonce: BigInt(String(req.headers[STACK_HEADERS.nonce])),
                reqHash: requestHash(JSON.parse(sent.toString()) as Record<string, unknown>),
              };
              void signLeafDenial(server.signerAccount, domain, fields).then((signature) => {
                operator.denied++;
                res.writeHead(409, { "content-type": "application/json" });
                res.end(
                  JSON.stringify({
                    error: { message: "denied", type: "conflict_error", param: null, code: "leaf_denied" },
                    denial: leafDenialToWire({ fields, signature }),
                  }),
                );
              });
            });
          },
        );
        upstream.on("error", () => res.destroy());
        upstream.end(sent);
      });
    });
    await new Promise<void>((resolve) => interposer.listen(frontPort, "127.0.0.1", resolve));
    const wallet = await network.account();
    const config = parseProxyConfig(
      {
        server: { port: 0 },
        database: { dataDir: join(dir, "proxy") },
        stacks: {
          units: "10000000",
          maxPerModel: 1,
          securityLevel: 0,
          buyAhead: false,
          idleCloseSeconds: 2,
          checkEveryMs: 300,
          denialRetryMs: 500,
        },
      },
      {
        rpcUrl: network.anvil.rpcUrl,
        chainId: network.anvil.chainId,
        contracts: network.deployment.addresses,
      },
    );
    gateway = await startGateway(config, { account: privateKeyToAccount(wallet.privateKey) });
    stopAll = async () => {
      await gateway.stop();
      await new Promise((resolve) => interposer.close(resolve));
      await node.stop();
      await engine.stop();
      await network.stop();
    };
  }, 180_000);
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  const complete = (key: string, body: Record<string, unknown>) =>
    fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "atoma-tiny", prompt: "Once upon a time", ...body }),
      signal: AbortSignal.timeout(60_000),
    });

  const settlementOf = (stackId: bigint) =>
    getSettlement({ publicClient: network.publicClient, addresses: network.deployment.addresses }, stackId);

  const proven = (stackId: bigint) =>
    network.publicClient.readContract({
      address: network.deployment.addresses.ReceiptFraud,
      abi: receiptFraudAbi,
      functionName: "proven",
      args: [stackId],
    });

  it("is slashed through the gateway's fraud proof with the denial its 409 carried", async () => {
    const { key } = await gateway.keys.create({ name: "denied-then-refused", budget: "1000" });
    const warm = await complete(key, { max_tokens: 3, seed: 1 });
    expect(warm.status).toBe(200);
    await warm.json();
    const [stack] = await gateway.db
      .selectFrom("stacks")
      .select("stack_id")
      .where("state", "!=", "retired")
      .execute();
    const stackId = stack!.stack_id;
    operator.denyNext = true;
    operator.refuseNext = true;
    const denied = await complete(key, { max_tokens: 3, seed: 2 });
    await denied.text();
    expect([operator.denied, operator.refused]).toEqual([1, 1]);
    // The node's signed word, kept with the freed nonce 1 (the request it committed there).
    const freed = await gateway.db
      .selectFrom("freed_leaves")
      .selectAll()
      .where("stack_id", "=", stackId)
      .where("denial_signature", "is not", null)
      .execute();
    expect(freed.map((row) => row.nonce)).toEqual([1n]);

    // Closed when idle, settled by the node with the denied request's leaf at nonce 1: proven, slashed.
    await expect
      .poll(async () => (await settlementOf(stackId)).phase, { timeout: 90_000, interval: 500 })
      .not.toBe(SettlementPhase.None);
    await expect.poll(() => proven(stackId), { timeout: 90_000, interval: 500 }).toBe(true);
    const slashed = await getNode(
      { publicClient: network.publicClient, addresses: network.deployment.addresses },
      nodeId,
    );
    expect(slashed.status).toBe(NodeStatus.Slashed);
    const [event] = await network.publicClient.getContractEvents({
      address: network.deployment.addresses.ReceiptFraud,
      abi: receiptFraudAbi,
      eventName: "FraudProven",
      fromBlock: 0n,
    });
    expect(event?.args).toMatchObject({ stackId, nodeId, kind: 8 });
  }, 240_000);
});
