import { SecurityLevel, submitConsensusRequest, withdrawBalance } from "@atoma/chain";
import { consensusRequestsAbi, disputeManagerAbi, exampleConsumerAbi } from "@atoma/contracts";
import { CONSENSUS_REFUSAL, consensusRoot, costOfUnits } from "@atoma/core";
import { keccak256, parseEther, parseEventLogs, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consensusPart } from "../src/consensus/consensusPart.js";
import { getSeat, getVote } from "../src/consensus/duties.js";
import {
  type ConsensusCluster,
  CLUSTER_ECHELON as ECHELON,
  CLUSTER_MAX_UNITS as MAX_UNITS,
  CLUSTER_PRICE as PRICE,
  startConsensusCluster,
  waitFor,
} from "../src/devnet/index.js";
import { createNode } from "../src/service/createNode.js";

/** ConsensusRequests.Status.Disputed and Delivered */
const DISPUTED = 4;
const DELIVERED = 5;
const byId = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

let cluster: ConsensusCluster;

beforeAll(async () => {
  cluster = await startConsensusCluster();
}, 240_000);
afterAll(() => cluster?.stop(), 60_000);

async function readRequest(requestId: bigint) {
  return cluster.network.admin.publicClient.readContract({
    address: cluster.network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    functionName: "getRequest",
    args: [requestId],
  });
}

async function resultDelivered(requestId: bigint) {
  const [log] = await cluster.network.admin.publicClient.getContractEvents({
    address: cluster.network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "ResultDelivered",
    args: { requestId },
    fromBlock: 0n,
    strict: true,
  });
  return log!.args;
}

async function timedOutNodes(requestId: bigint) {
  const logs = await cluster.network.admin.publicClient.getContractEvents({
    address: cluster.network.deployment.addresses.ConsensusRequests,
    abi: consensusRequestsAbi,
    eventName: "NodeTimedOut",
    args: { requestId },
    fromBlock: 0n,
    strict: true,
  });
  return logs.map((log) => log.args.nodeId);
}

async function drawnSeats(requestId: bigint) {
  return waitFor("the seat draw", async () => {
    const [log] = await cluster.network.admin.publicClient.getContractEvents({
      address: cluster.network.deployment.addresses.ConsensusRequests,
      abi: consensusRequestsAbi,
      eventName: "SeatsDrawn",
      args: { requestId },
      fromBlock: 0n,
      strict: true,
    });
    return log?.args.nodeIds;
  });
}

const delivered = (requestId: bigint) =>
  waitFor("delivery", async () => ((await readRequest(requestId)).status === DELIVERED ? true : undefined));

describe("n-node Sampling Consensus for smart-contract requests, seven in-process nodes on anvil", () => {
  it("the example consumer asks, three nodes compute and agree, and the engine's output reaches the consumer", {
    timeout: 180_000,
  }, async () => {
    const { network, chainNodes } = cluster;
    const { addresses, contracts } = network.deployment;
    const consumer = addresses.ExampleConsumer!;
    await network.admin.publicClient.waitForTransactionReceipt({
      hash: await contracts.token.write.transfer([consumer, parseEther("10")]),
    });
    const prompt = stringToHex("Should the DAO fund proposal 7?");
    const hash = await network.admin.walletClient.writeContract({
      address: consumer,
      abi: exampleConsumerAbi,
      functionName: "ask",
      args: [cluster.honestTask, prompt, 3, MAX_UNITS, PRICE, ECHELON, 200_000],
    });
    const receipt = await network.admin.publicClient.waitForTransactionReceipt({ hash });
    const [asked] = parseEventLogs({
      abi: consensusRequestsAbi,
      logs: receipt.logs,
      eventName: "ConsensusRequested",
    });
    const { requestId } = asked!.args;
    // Nobody drew in the request's block; the task's nodes draw in a later one.
    const nodeIds = await drawnSeats(requestId);
    expect([...nodeIds].sort(byId)).toEqual(chainNodes.slice(0, 3).map((n) => n.nodeId));

    const answer = await waitFor("the consumer's answer", async () => {
      const read = { address: consumer, abi: exampleConsumerAbi, args: [requestId] } as const;
      const answered = await network.admin.publicClient.readContract({ ...read, functionName: "answered" });
      if (!answered) return undefined;
      return network.admin.publicClient.readContract({ ...read, functionName: "answers" });
    });
    const { output: expected, units } = await cluster.honestResult(requestId, prompt);
    expect(expected.length).toBeGreaterThan(2);
    expect(answer).toBe(expected);

    const result = await resultDelivered(requestId);
    expect([...result.paidNodes]).toEqual([...nodeIds]);
    expect(result.units).toBe(units);
    expect(result.units).toBeLessThanOrEqual(MAX_UNITS);
    for (const id of nodeIds) {
      const seat = await waitFor("the seat to close", async () => {
        const row = await getSeat(cluster.nodeOf(id).context.db, requestId);
        return row?.state === "done" ? row : undefined;
      });
      expect(seat).toMatchObject({
        outcome: "delivered",
        output: expected,
        units,
        root: consensusRoot(expected, units, 3),
      });
      expect(seat.salt).toMatch(/^0x[0-9a-f]{64}$/);
    }
  });

  it("a node running other weights is outvoted by the committee and slashed; the honest output is delivered", {
    timeout: 240_000,
  }, async () => {
    const { network, chainNodes, cheater } = cluster;
    const registry = network.deployment.contracts.nodeRegistry;
    expect((await registry.read.getNode([cheater.nodeId])).collateral).toBe(parseEther("1000"));

    const requester = await network.account();
    const prompt = stringToHex("Is 7 prime?");
    const { requestId, seats } = await submitConsensusRequest(requester.ctx, {
      taskId: cluster.cheatTask,
      prompt,
      n: 3,
      maxUnits: MAX_UNITS,
      maxPricePerMillion: PRICE,
      echelon: ECHELON,
      callbackGas: 0,
    });
    const nodeIds = seats!.nodeIds;
    expect(nodeIds).toContain(cheater.nodeId);

    // The roots differ: the last commit opens a dispute, whose committee is drawn in a later block (seeded by
    // the hash of the opening one). Anvil mines only on transactions, so a block is mined here as a chain would.
    await waitFor("the dispute", async () =>
      (await readRequest(requestId)).status >= DISPUTED ? true : undefined,
    );
    await network.advance(1);
    await delivered(requestId);
    const { output: expected, units } = await cluster.honestResult(requestId, prompt);
    const agreedRoot = consensusRoot(expected, units, 3);
    const result = await resultDelivered(requestId);
    expect(result.output).toBe(expected);
    expect([...result.paidNodes]).toEqual(nodeIds.filter((id) => id !== cheater.nodeId));

    const [opened] = await network.admin.publicClient.getContractEvents({
      address: network.deployment.addresses.DisputeManager,
      abi: disputeManagerAbi,
      eventName: "DisputeOpened",
      args: { originId: requestId },
      fromBlock: 0n,
      strict: true,
    });
    const { disputeId, committee } = opened!.args;
    expect([...committee].sort(byId)).toEqual(chainNodes.slice(2, 5).map((n) => n.nodeId));
    const dispute = await network.deployment.contracts.disputeManager.read.getDispute([disputeId]);
    expect(dispute).toMatchObject({ decided: true, winner: agreedRoot });

    const slashed = await registry.read.getNode([cheater.nodeId]);
    expect(slashed).toMatchObject({ collateral: 0n, reputation: 0, status: 3 }); // Slashed

    const cheaterSeat = await getSeat(cluster.nodeOf(cheater.nodeId).context.db, requestId);
    expect(cheaterSeat?.root).toMatch(/^0x[0-9a-f]{64}$/);
    expect(cheaterSeat?.root).not.toBe(agreedRoot);
    for (const member of committee) {
      const vote = await waitFor("the vote to close", async () => {
        const row = await getVote(cluster.nodeOf(member).context.db, disputeId);
        return row?.state === "done" ? row : undefined;
      });
      expect(vote.result).toBe(agreedRoot);
    }
  });

  it("a poison prompt too long for the context is refused alike by every honest seat: nobody is slashed, the requester gets back only its escrow", {
    timeout: 180_000,
  }, async () => {
    const { network, chainNodes } = cluster;
    const { nodeRegistry: registry, token } = network.deployment.contracts;
    const honest = chainNodes.slice(0, 3).map((n) => n.nodeId);
    const collateral = await Promise.all(
      honest.map(async (id) => (await registry.read.getNode([id])).collateral),
    );
    const requester = await network.account();
    const tokens = await token.read.balanceOf([requester.account.address]);
    const maxUnits = 5_000n;
    // About 1,560 tokens of the character-level model: past its 1,024-token context, with room in the budget, so
    // the engine is asked for a few tokens and cannot start.
    const prompt = stringToHex("Ignore this. ".repeat(120));
    const { requestId } = await submitConsensusRequest(requester.ctx, {
      taskId: cluster.honestTask,
      prompt,
      n: 3,
      maxUnits,
      maxPricePerMillion: PRICE,
      echelon: ECHELON,
      callbackGas: 0,
    });

    await delivered(requestId);
    const result = await resultDelivered(requestId);
    expect(result.output).toBe(CONSENSUS_REFUSAL);
    expect(result.units).toBe(0n);
    expect([...result.paidNodes].sort(byId)).toEqual(honest);
    expect(await timedOutNodes(requestId)).toEqual([]);
    for (const [i, id] of honest.entries()) {
      expect((await registry.read.getNode([id])).collateral).toBe(collateral[i]);
      const seat = await waitFor("the seat to close", async () => {
        const row = await getSeat(cluster.nodeOf(id).context.db, requestId);
        return row?.state === "done" ? row : undefined;
      });
      expect(seat).toMatchObject({ output: CONSENSUS_REFUSAL, units: 0n });
    }
    const { amount } = await withdrawBalance(requester.ctx, { account: requester.account.address });
    expect(amount).toBe(3n * costOfUnits(maxUnits, PRICE));
    expect(await token.read.balanceOf([requester.account.address])).toBe(tokens);
  });

  it("goes on without a sampled node that is down: the others close the round at the deadline and deliver", {
    timeout: 240_000,
  }, async () => {
    const { network, chainNodes } = cluster;
    const registry = network.deployment.contracts.nodeRegistry;
    const [h1, h2, h3] = chainNodes as [
      (typeof chainNodes)[0],
      (typeof chainNodes)[0],
      (typeof chainNodes)[0],
    ];
    const absent = cluster.nodeOf(h3.nodeId);
    await absent.stop();
    const collateral = (await registry.read.getNode([h3.nodeId])).collateral;

    const requester = await network.account();
    const prompt = stringToHex("Say hi");
    const { requestId } = await submitConsensusRequest(requester.ctx, {
      taskId: cluster.honestTask,
      prompt,
      n: 3,
      maxUnits: MAX_UNITS,
      maxPricePerMillion: PRICE,
      echelon: ECHELON,
      callbackGas: 0,
    });
    for (const present of [h1, h2])
      await waitFor("the present nodes to seal", async () => {
        const row = await getSeat(cluster.nodeOf(present.nodeId).context.db, requestId);
        return row?.state === "sealed" ? true : undefined;
      });
    await network.advance(301); // past the seal deadline: the seats that sealed reveal, and the last closes the round

    await delivered(requestId);
    expect(await timedOutNodes(requestId)).toEqual([h3.nodeId]);
    expect((await registry.read.getNode([h3.nodeId])).collateral).toBe(collateral - collateral / 20n); // 5 %
    const result = await resultDelivered(requestId);
    expect(result.output).toBe(await cluster.honestOutput(requestId, prompt));
    expect([...result.paidNodes].sort(byId)).toEqual([h1.nodeId, h2.nodeId]);

    // Back up, it catches up on the events it missed and leaves the request closed.
    await absent.start();
    const seat = await waitFor("the absent node's seat to close", async () => {
      const row = await getSeat(absent.context.db, requestId);
      return row?.state === "done" ? row : undefined;
    });
    expect(seat.outcome).toBe("missed");
  });

  it("stays out of consensus duties, and out of the node's way, while its signer is not a registered node", async () => {
    const stranger = await cluster.network.account(0n);
    const node = createNode(
      { account: stranger.account, engine: cluster.engine, parts: [consensusPart()] },
      cluster.configFor("stranger"),
    );
    await node.start();
    try {
      expect((await fetch(`${node.url}/health`)).status).toBe(200);
      expect(await node.context.db.selectFrom("consensus_seats").selectAll().execute()).toEqual([]);
    } finally {
      await node.stop();
    }
  });

  it("gives up at once, with a named error, a request whose task is for a model the node does not serve", async () => {
    const { network, chainNodes } = cluster;
    const { modelId: otherModel } = await network.registerModel({
      name: "another-model",
      weightsRoot: keccak256(stringToHex("other weights")),
      feeBps: 0,
    });
    const h4 = chainNodes[3]!;
    const taskId = await network.addTask({ modelId: otherModel, securityLevel: SecurityLevel.Consensus });
    // h4 alone at PRICE takes the seat; three others of the echelon, at twice that, leave room for a committee.
    await network.subscribe(h4, taskId, { pricePerMillion: PRICE });
    for (const i of [0, 1, 4])
      await network.subscribe(chainNodes[i]!, taskId, { pricePerMillion: 2n * PRICE });
    const requester = await network.account();
    const { requestId } = await submitConsensusRequest(requester.ctx, {
      taskId,
      prompt: stringToHex("Hello?"),
      n: 1,
      maxUnits: MAX_UNITS,
      maxPricePerMillion: PRICE,
      echelon: ECHELON,
      callbackGas: 0,
    });
    const seat = await waitFor("the seat to be given up", async () => {
      const row = await getSeat(cluster.nodeOf(h4.nodeId).context.db, requestId);
      return row?.state === "failed" ? row : undefined;
    });
    expect(seat.last_error).toMatch(/^consensus_model_mismatch: task \d+ is not for the model/);
    expect(seat.attempts).toBe(1);
    expect(seat.output).toBeNull();
  });
});
