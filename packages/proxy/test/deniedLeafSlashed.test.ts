import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getNode, getSettlement, NodeStatus, SecurityLevel, SettlementPhase } from "@atoma/chain";
import { type Devnet, startDevnet } from "@atoma/chain/devnet";
import { receiptFraudAbi } from "@atoma/contracts";
import { atomaDomain, type Hash, LEAF_READ_HEADERS, leafDenialToWire, signLeafDenial } from "@atoma/core";
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

/**
 * What the lying operator does in front of its own (real) node: `cutNext` keeps the next answer going at the node when
 * the gateway stops reading it (its client stopped the stream), so the node, unaware, finishes and commits the leaf; `lieAt` answers a leaf read of that
 * nonce naming its request 404 `leaf_not_found` with a denial signed by the node's own key. Anything else passes.
 */
interface Operator {
  cutNext: boolean;
  /** Resolves once the cut answer ran to its end at the node (its leaf committed). */
  drained: Promise<void>;
  lieAt: bigint | undefined;
  lies: number;
  /**
   * The node's public leaf proofs (`GET /v1/stacks/{id}/proof/{leaf}`): served, or bent (the true proof of the leaf
   * relabelled as leaf 0: a prover that trusts the label sends a proof the contract refuses for good).
   */
  proofs: "serve" | "relabel";
  /** Proofs asked for while bent. */
  bentProofs: number;
}

// Issue 12, denied leaves, end to end: a node that tells the gateway's leaf read "no leaf for the cut request here, and
// none will be committed" (signed, so the gateway frees the nonce) yet settles that very leaf is slashed on-chain by
// the gateway's fraud proof (`ReceiptFraud.proveDeniedLeaf`), sent by its settlement watcher. Before this, the
// node's unsigned 404 freed the nonce and the node was paid for the leaf at settlement.
describe("a real node that denies a cut request's leaf and settles it", () => {
  let network: Devnet;
  let gateway: Gateway;
  let interposer: Server;
  let stopAll: () => Promise<void> = async () => {};
  const dir = mkdtempSync(join(tmpdir(), "atoma-denied-leaf-"));
  let nodeId: bigint;
  let markDrained: () => void = () => {};
  const operator: Operator = {
    cutNext: false,
    drained: Promise.resolve(),
    lieAt: undefined,
    lies: 0,
    proofs: "serve",
    bentProofs: 0,
  };

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
    // Every production part: it settles its stacks on its own once they close.
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
      const leaf = /^\/v1\/stacks\/(\d+)\/leaves\/(\d+)/.exec(path);
      const named = req.headers[LEAF_READ_HEADERS.requestHash];
      if (leaf && typeof named === "string" && operator.lieAt === BigInt(leaf[2]!)) {
        operator.lies++;
        const fields = { stackId: BigInt(leaf[1]!), nonce: BigInt(leaf[2]!), reqHash: named as Hash };
        void signLeafDenial(server.signerAccount, domain, fields).then((signature) => {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              error: { message: "no leaf", type: "not_found_error", param: null, code: "leaf_not_found" },
              denial: leafDenialToWire({ fields, signature }),
            }),
          );
        });
        return;
      }
      if (operator.proofs === "relabel" && /^\/v1\/stacks\/\d+\/proof\/\d+/.test(path)) {
        operator.bentProofs++;
        void fetch(`http://127.0.0.1:${nodePort}${path}`).then(async (answer) => {
          const body = (await answer.json()) as Record<string, unknown>;
          res.writeHead(answer.status, { "content-type": "application/json" });
          res.end(JSON.stringify(answer.ok ? { ...body, leaf_index: "0" } : body));
        });
        return;
      }
      const cut = operator.cutNext && req.method === "POST";
      if (cut) operator.cutNext = false;
      const upstream = httpRequest(
        { host: "127.0.0.1", port: nodePort, method: req.method, path, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          // The gateway gone (its client stopped the stream): an honest relay drops the node's answer too, so the node
          // stops and commits nothing; a cut one reads it on to its end, so the node never sees the stop and commits.
          res.on("close", () => {
            if (cut) answer.resume();
            else if (!answer.complete) answer.destroy();
          });
          if (cut) answer.on("end", () => markDrained());
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
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
          // A bent proof is asked for again half a second later (not 30 s): the test waits for that ask, however
          // slow the machine, instead of racing a fixed timeout against the watcher's backoff.
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

  const complete = (key: string, body: Record<string, unknown>, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: "atoma-tiny", prompt: "Once upon a time", ...body }),
      signal: signal ?? AbortSignal.timeout(60_000),
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

  /**
   * A request answered on a fresh stack (the one before closed), then a stream at nonce 1 its client stops (`keptGoing`:
   * the operator keeps it going at the node).
   */
  async function stopAtNonceOne(key: string, seed: number, keptGoing = false): Promise<bigint> {
    const warm = await complete(key, { max_tokens: 3, seed });
    expect(warm.status).toBe(200);
    await warm.json();
    const [stack] = await gateway.db
      .selectFrom("stacks")
      .select("stack_id")
      .where("state", "!=", "retired")
      .execute();
    operator.cutNext = keptGoing;
    const stop = new AbortController();
    const stream = await complete(
      key,
      { max_tokens: 200, ignore_eos: true, seed: seed + 1, stream: true },
      stop.signal,
    );
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    await reader.read();
    stop.abort();
    await reader.cancel().catch(() => undefined);
    return stack!.stack_id;
  }

  // The honest reuse of a freed nonce: the node's denial is true, the gateway signs another request at that nonce, and
  // the settled leaf there (that other request's) convicts nothing: the denial is dropped once checked.
  it("leaves an honest node alone: the freed nonce's leaf is another request's", async () => {
    const { key } = await gateway.keys.create({ name: "honest", budget: "1000" });
    const stackId = await stopAtNonceOne(key, 10);
    // The node may still be winding the stopped stream down (its leaf read answered 409 in flight, for as long as a
    // loaded machine takes): asked again until it answers.
    let seed = 12;
    await expect
      .poll(
        async () => {
          const next = await complete(key, { max_tokens: 3, seed: seed++ });
          await next.text();
          return next.status;
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe(200);
    const denials = () =>
      gateway.db
        .selectFrom("freed_leaves")
        .select("nonce")
        .where("stack_id", "=", stackId)
        .where("denial_signature", "is not", null)
        .execute();
    expect((await denials()).map((row) => row.nonce)).toEqual([1n]);
    // Closed when idle, settled by the node, checked by the watcher: the denial is dropped, nobody slashed.
    await expect.poll(async () => (await denials()).length, { timeout: 90_000, interval: 500 }).toBe(0);
    expect(await proven(stackId)).toBe(false);
    const node = await getNode(
      { publicClient: network.publicClient, addresses: network.deployment.addresses },
      nodeId,
    );
    expect(node.status).toBe(NodeStatus.Active);
  }, 180_000);

  it("is slashed through the gateway's fraud proof once the denied leaf settles", async () => {
    const { key } = await gateway.keys.create({ name: "lied-to", budget: "1000" });
    // The client stops the stream of the request at nonce 1; the node, kept going, commits its leaf all the same.
    operator.drained = new Promise<void>((resolve) => {
      markDrained = resolve;
    });
    const stackId = await stopAtNonceOne(key, 1, true);
    await operator.drained;

    // The stack's next request reads the cut one's leaf first: the operator denies it, signed with the node's key.
    operator.lieAt = 1n;
    const next = await complete(key, { max_tokens: 3, seed: 3 });
    await next.text();
    expect(operator.lies).toBeGreaterThan(0);
    // Kept with the freed nonce: the node's signed word.
    const freed = await gateway.db
      .selectFrom("freed_leaves")
      .selectAll()
      .where("stack_id", "=", stackId)
      .execute();
    expect(freed.some((row) => row.nonce === 1n && row.denial_signature !== null)).toBe(true);

    // The stack is closed (idle or retired), the node settles its leaves, the cut request's at nonce 1 among them.
    // Until the settlement is over (paid out), the node bends its proof of that leaf: the watcher checks each proof
    // itself (its index, its path to the settled root), so a bent one proves nothing and forgets nothing, and the
    // stack stays watched past its payout until the denial is resolved.
    operator.proofs = "relabel";
    await expect
      .poll(async () => (await settlementOf(stackId)).phase, { timeout: 90_000, interval: 500 })
      .toBe(SettlementPhase.Accepted);
    // Its challenge window run out, the watcher pays it out (the stack set aside, but for its denial).
    await network.advance((await settlementOf(stackId)).windowEnds - (await network.now()) + 10n);
    await expect
      .poll(async () => (await settlementOf(stackId)).phase, { timeout: 60_000, interval: 500 })
      .toBe(SettlementPhase.Finalized);
    // A bent proof asked for after the payout (the watcher may have asked once already before this line runs).
    const bentBefore = operator.bentProofs;
    await expect
      .poll(() => operator.bentProofs, { timeout: 60_000, interval: 200 })
      .toBeGreaterThan(bentBefore);
    expect(await proven(stackId)).toBe(false);
    operator.proofs = "serve";
    // Served at last: the gateway's settlement watcher proves the denial against that leaf: the node is slashed.
    await expect.poll(() => proven(stackId), { timeout: 90_000, interval: 500 }).toBe(true);
    const slashed = await getNode(
      { publicClient: network.publicClient, addresses: network.deployment.addresses },
      nodeId,
    );
    expect(slashed.status).toBe(NodeStatus.Slashed);
    expect(slashed.collateral).toBe(0n);
    const [event] = await network.publicClient.getContractEvents({
      address: network.deployment.addresses.ReceiptFraud,
      abi: receiptFraudAbi,
      eventName: "FraudProven",
      fromBlock: 0n,
    });
    expect(event?.args).toMatchObject({ stackId, nodeId, kind: 8 });
  }, 180_000);
});
