import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buyStack, closeStack } from "@atoma/chain";
import { STACK_HEADERS } from "@atoma/core";
import type { EmbeddedEngine, TinyModelFile } from "@atoma/engine";
import { type SignedStackRequest, StackClient } from "@atoma/sdk";
import { Hono } from "hono";
import type { LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRICE,
  SecurityLevel,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "../../chain/test/network.js";
import { findLeafByNonce, getStack } from "../src/accounting/stacks.js";
import { inferenceHandler } from "../src/api/handleInference.js";
import { createStackApi } from "../src/api/stackApiPart.js";
import { startTinyEngine, waitForStack } from "../src/devnet/index.js";
import type { AtomaNode } from "../src/service/createNode.js";
import { startFullNode } from "./helpers/fullNodes.js";
import { waitFor } from "./helpers/settlementNetwork.js";

const HOUR = 3_600;
const PHASE_NONE = 0;

/**
 * Issue 10, item 18: an owner opens a stream and never reads it, then closes its stack. The answer must be
 * recorded (and charged) when generation ends, not when the client has read it, so nothing the owner does with
 * the connection can hold a reservation open past the settlement deadline and get the honest server slashed.
 */
describe("a stream its owner never reads", () => {
  const root = mkdtempSync(join(tmpdir(), "atoma-slow-reader-"));
  let engine: EmbeddedEngine;
  let model: TinyModelFile;
  let network: TestNetwork;
  let server: TestNode;
  let taskId: bigint;
  let node: AtomaNode;
  let user: { account: LocalAccount; ctx: Parameters<typeof buyStack>[0] };

  beforeAll(async () => {
    ({ engine, model } = await startTinyEngine());
    network = await startNetwork();
    server = await network.addNode();
    taskId = await taskWith(network, [server], { securityLevel: SecurityLevel.None });
    ({ node } = await startFullNode(network, server, { engine, model, dataDir: join(root, "node") }));
    await network.advance(HOUR);
    user = await network.account();
  }, 240_000);
  afterAll(async () => {
    await node?.stop();
    await network?.stop();
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  async function newStack() {
    const stack = await buyStack(user.ctx, {
      taskId,
      units: 10_000n,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
    });
    await waitForStack(node, stack.stackId);
    const client = new StackClient({
      nodeUrl: node.url,
      account: user.account,
      stackId: stack.stackId,
      chainId: network.anvil.chainId,
      stackManager: network.deployment.addresses.StackManager,
      nodeSigner: server.signerAccount.address,
      nodeId: server.nodeId,
    });
    return { stack, client };
  }
  const streamed = (client: StackClient) =>
    client.sign({
      model: model.id,
      messages: [{ role: "user", content: "Talk for a while" }],
      max_tokens: 64,
      ignore_eos: true,
      stream: true,
    });
  const nonceOf = (signed: SignedStackRequest) => BigInt(signed.headers[STACK_HEADERS.nonce]!);
  const committed = (stackId: bigint, signed: SignedStackRequest) =>
    waitFor(
      "the streamed answer's leaf",
      () => findLeafByNonce(node.context.db, stackId, nonceOf(signed)),
      30_000,
    );

  it("records and charges the answer when generation ends, though the response body is never pulled", async () => {
    const { stack, client } = await newStack();
    const api = await createStackApi(node.context);
    const app = new Hono();
    app.post("/v1/chat/completions", inferenceHandler(api, "chat"));
    const signed = await streamed(client);
    const response = await app.request("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", ...signed.headers },
      body: signed.json,
    });
    expect(response.status).toBe(200);
    const leaf = await committed(stack.stackId, signed);
    expect(leaf.units).toBeGreaterThan(64n);
    expect(await getStack(node.context.db, stack.stackId)).toMatchObject({
      unitsReserved: 0n,
      unitsUsed: leaf.units,
      leafCount: 1n,
    });
    expect(node.context.admission.active).toBe(0);
    await response.body?.cancel();
  });

  it("over a real socket the client never reads: the leaf is committed, and the closed stack settles in time", async () => {
    const { stack, client } = await newStack();
    const signed = await streamed(client);
    const url = new URL("/v1/chat/completions", node.url);
    const socket: Socket = connect(Number(url.port), url.hostname);
    socket.pause(); // the owner never reads a byte
    const head = [
      `POST ${url.pathname} HTTP/1.1`,
      `host: ${url.host}`,
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(signed.json)}`,
      ...Object.entries(signed.headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${head.join("\r\n")}\r\n\r\n${signed.json}`);
    try {
      const leaf = await committed(stack.stackId, signed);
      expect(socket.bytesRead).toBe(0);
      expect((await getStack(node.context.db, stack.stackId))?.unitsReserved).toBe(0n);

      await closeStack(user.ctx, { stackId: stack.stackId });
      const settlement = await waitFor(
        "the settlement to be submitted",
        async () => {
          const onChain = await network.deployment.contracts.settlementManager.read.getSettlement([
            stack.stackId,
          ]);
          return onChain.phase !== PHASE_NONE ? onChain : undefined;
        },
        60_000,
      );
      expect(settlement).toMatchObject({ units: leaf.units, requestCount: 1 });
      // The node knows the deadline the close set: near it, a freeze would stop waiting for anything in flight.
      const { stackManager } = network.deployment.contracts;
      const recorded = await waitFor("the recorded settlement deadline", async () => {
        const row = await node.context.db
          .selectFrom("stacks")
          .select("settle_deadline")
          .where("stack_id", "=", stack.stackId)
          .executeTakeFirstOrThrow();
        return row.settle_deadline ?? undefined;
      });
      expect(recorded).toBe(await stackManager.read.settleDeadline([stack.stackId]));
      expect(socket.bytesRead).toBe(0);
    } finally {
      socket.destroy();
    }
  });
});
