import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { submitConsensusRequest } from "@atoma/chain";
import { consensusRequestsAbi, disputeManagerAbi, exampleConsumerAbi } from "@atoma/contracts";
import { consensusRoot, silentLogger } from "@atoma/core";
import { EmbeddedEngine, ensureTinyModel, type InferenceEngine } from "@atoma/engine";
import { type Address, type Hex, parseEther, parseEventLogs, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNodeConfig } from "../src/config/loadConfig.js";
import { consensusChatBody, consensusSeed, outputBytes } from "../src/consensus/consensusBody.js";
import { consensusPart } from "../src/consensus/consensusPart.js";
import { getSeat, getVote } from "../src/consensus/duties.js";
import { type AtomaNode, createNode } from "../src/service/createNode.js";
import {
  type ChainNode,
  type ConsensusNetwork,
  startConsensusNetwork,
} from "./consensusHarness/consensusNetwork.js";
import { rewritingEngine } from "./consensusHarness/rewritingEngine.js";

const MODEL = "atoma-tiny";
const CHEAP_MODEL = "atoma-tiny-s2";
const PRICE = parseEther("2");
const ECHELON = 2;
const MAX_UNITS = 200n;
const MAX_OUTPUT_TOKENS = 24;
/** ConsensusRequests.Status.Delivered */
const DELIVERED = 4;

const root = mkdtempSync(join(tmpdir(), "atoma-consensus-"));
let network: ConsensusNetwork;
let engine: EmbeddedEngine;
/** Five honest nodes and, last, one whose engine runs another model. */
let chainNodes: ChainNode[];
let nodes: AtomaNode[] = [];
let honestTask: bigint;
let cheatTask: bigint;

const nodeOf = (id: bigint) => nodes[chainNodes.findIndex((n) => n.nodeId === id)]!;

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 150_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The output an honest node must produce for a request: the engine's answer to the documented body. */
async function honestOutput(requestId: bigint, prompt: Hex): Promise<Hex> {
  const { count } = await engine.tokenize({
    model: MODEL,
    messages: (consensusChatBody({ model: MODEL, prompt, seed: 0 }) as { messages: unknown }).messages,
  });
  const maxTokens = Math.min(MAX_OUTPUT_TOKENS, Number(MAX_UNITS) - count);
  const seed = consensusSeed(network.deployment.addresses.ConsensusRequests, requestId);
  const { response } = await engine.chat(consensusChatBody({ model: MODEL, prompt, seed, maxTokens }));
  return outputBytes(response.choices[0]!.message.content, 16_384);
}

async function readRequest(requestId: bigint) {
  return network.admin.publicClient.readContract({
    address: network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "getRequest",
    args: [requestId],
  });
}

async function deliveredLog(requestId: bigint) {
  const logs = await network.admin.publicClient.getContractEvents({
    address: network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ResultDelivered",
    args: { requestId },
    fromBlock: 0n,
    strict: true,
  });
  return logs[0]?.args;
}

beforeAll(async () => {
  network = await startConsensusNetwork(MODEL);
  const honest = ensureTinyModel({ seed: 1 });
  const cheap = ensureTinyModel({ seed: 2 });
  engine = new EmbeddedEngine(
    { logger: silentLogger },
    {
      models: [
        { id: honest.id, path: honest.path },
        { id: cheap.id, path: cheap.path },
      ],
      threads: 1,
      contextSize: 1024,
    },
  );
  await engine.start();

  chainNodes = [];
  for (let i = 0; i < 6; i++) chainNodes.push(await network.addNode(ECHELON));
  const [h1, h2, h3, h4, h5, cheater] = chainNodes as [ChainNode, ...ChainNode[]] as ChainNode[];
  // Only h1–h3 serve the first task. The second is drawn at PRICE among cheater, h1, h2 (h3–h5 ask more), so the
  // cheater is always sampled and the dispute committee (every other subscriber) is h3–h5.
  honestTask = await network.consensusTask([h1!, h2!, h3!].map((node) => ({ node, pricePerMillion: PRICE })));
  cheatTask = await network.consensusTask([
    ...[cheater!, h1!, h2!].map((node) => ({ node, pricePerMillion: PRICE })),
    ...[h3!, h4!, h5!].map((node) => ({ node, pricePerMillion: 2n * PRICE })),
  ]);
  await network.advance(3_600); // nodes are eligible from the epoch after they registered

  const contracts = Object.fromEntries(
    Object.entries(network.deployment.addresses).filter(([, address]) => address !== undefined),
  ) as Record<string, Address>;
  nodes = chainNodes.map((chainNode, i) => {
    const config = parseNodeConfig(
      {
        chain: {
          rpcUrl: network.anvil.rpcUrl,
          chainId: network.anvil.chainId,
          contracts,
          pollingIntervalMs: 50,
        },
        node: { keyFile: "unused.key", port: 0, dataDir: join(root, `node-${i}`), shutdownTimeoutMs: 1_000 },
        model: { path: honest.path, id: MODEL },
        metrics: { enabled: false },
      },
      root,
    );
    const nodeEngine: InferenceEngine =
      chainNode === cheater ? rewritingEngine(engine, MODEL, CHEAP_MODEL) : engine;
    return createNode(
      {
        account: chainNode.signer,
        engine: nodeEngine,
        parts: [consensusPart({ pollIntervalMs: 100, maxOutputTokens: MAX_OUTPUT_TOKENS })],
      },
      config,
    );
  });
  for (const node of nodes) await node.start();
}, 240_000);

afterAll(async () => {
  for (const node of nodes) await node.stop().catch(() => {});
  await engine?.stop();
  await network?.stop();
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe("n-node Sampling Consensus for smart-contract requests, three nodes and a committee on anvil", () => {
  it("the example consumer asks, three nodes compute and agree, and the engine's output reaches the consumer", {
    timeout: 180_000,
  }, async () => {
    const { addresses, contracts } = network.deployment;
    const consumer = addresses.ExampleConsumer!;
    await network.admin.publicClient.waitForTransactionReceipt({
      hash: await contracts.token.write.mint([consumer, parseEther("10")]),
    });
    const prompt = stringToHex("Should the DAO fund proposal 7?");
    const hash = await network.admin.walletClient.writeContract({
      address: consumer,
      abi: exampleConsumerAbi,
      functionName: "ask",
      args: [honestTask, prompt, 3, MAX_UNITS, PRICE, ECHELON, 200_000],
    });
    const receipt = await network.admin.publicClient.waitForTransactionReceipt({ hash });
    const [asked] = parseEventLogs({
      abi: consensusRequestsAbi,
      logs: receipt.logs,
      eventName: "ConsensusRequested",
    });
    const { requestId, nodeIds } = asked!.args;
    expect([...nodeIds].sort()).toEqual(chainNodes.slice(0, 3).map((n) => n.nodeId));

    const answer = await waitFor("the consumer's answer", async () => {
      const answered = await network.admin.publicClient.readContract({
        address: consumer,
        abi: exampleConsumerAbi,
        functionName: "answered",
        args: [requestId],
      });
      if (!answered) return undefined;
      return network.admin.publicClient.readContract({
        address: consumer,
        abi: exampleConsumerAbi,
        functionName: "answers",
        args: [requestId],
      });
    });
    const expected = await honestOutput(requestId, prompt);
    expect(expected.length).toBeGreaterThan(2);
    expect(answer).toBe(expected);

    const delivered = (await deliveredLog(requestId))!;
    expect([...delivered.paidNodes]).toEqual([...nodeIds]);
    expect(delivered.units).toBeGreaterThan(0n);
    expect(delivered.units).toBeLessThanOrEqual(MAX_UNITS);
    for (const id of nodeIds) {
      const seat = await waitFor("the seat to close", async () => {
        const row = await getSeat(nodeOf(id).context.db, requestId);
        return row?.state === "done" ? row : undefined;
      });
      expect(seat).toMatchObject({
        outcome: "delivered",
        output: expected,
        root: consensusRoot(expected, 3),
      });
    }
  });

  it("a node running other weights is outvoted by the committee and slashed; the honest output is delivered", {
    timeout: 240_000,
  }, async () => {
    const cheater = chainNodes[5]!;
    const registry = network.deployment.contracts.nodeRegistry;
    const before = await registry.read.getNode([cheater.nodeId]);
    expect(before.collateral).toBe(parseEther("1000"));

    const requester = await network.account();
    const prompt = stringToHex("Is 7 prime?");
    const { requestId, nodeIds } = await submitConsensusRequest(requester.ctx, {
      taskId: cheatTask,
      prompt,
      n: 3,
      maxUnits: MAX_UNITS,
      maxPricePerMillion: PRICE,
      echelon: ECHELON,
      callbackGas: 0,
    });
    expect(nodeIds).toContain(cheater.nodeId);

    await waitFor("delivery", async () =>
      (await readRequest(requestId)).status === DELIVERED ? true : undefined,
    );
    const expected = await honestOutput(requestId, prompt);
    const delivered = (await deliveredLog(requestId))!;
    expect(delivered.output).toBe(expected);
    expect([...delivered.paidNodes]).toEqual(nodeIds.filter((id) => id !== cheater.nodeId));

    const [opened] = await network.admin.publicClient.getContractEvents({
      address: network.deployment.addresses.DisputeManager,
      abi: disputeManagerAbi,
      eventName: "DisputeOpened",
      args: { originId: requestId },
      fromBlock: 0n,
      strict: true,
    });
    const disputeId = opened!.args.disputeId;
    expect([...opened!.args.committee].sort()).toEqual(chainNodes.slice(2, 5).map((n) => n.nodeId));
    const dispute = await network.deployment.contracts.disputeManager.read.getDispute([disputeId]);
    expect(dispute).toMatchObject({ decided: true, winner: consensusRoot(expected, 3) });

    const after = await registry.read.getNode([cheater.nodeId]);
    expect(after.collateral).toBe(0n);
    expect(after.reputation).toBe(0);
    expect(after.status).toBe(3); // Slashed

    const cheaterSeat = await getSeat(nodeOf(cheater.nodeId).context.db, requestId);
    expect(cheaterSeat?.root).not.toBe(consensusRoot(expected, 3));
    for (const member of opened!.args.committee) {
      const vote = await waitFor("the vote to close", async () => {
        const row = await getVote(nodeOf(member).context.db, disputeId);
        return row?.state === "done" ? row : undefined;
      });
      expect(vote.result).toBe(consensusRoot(expected, 3));
    }
  });
});
