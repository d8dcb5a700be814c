import { consensusRequestsAbi, exampleConsumerAbi } from "@atoma/contracts";
import { CONSENSUS_REFUSAL, consensusRoot, consensusShownOutput } from "@atoma/core";
import { type Hex, hexToString, parseEther, parseEventLogs, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withdrawBalance } from "../src/actions/claimFees.js";
import {
  closeConsensusRound,
  revealConsensusResult,
  sealConsensusResult,
} from "../src/actions/consensusCommit.js";
import { deliverConsensusResult } from "../src/actions/consensusDelivery.js";
import { drawConsensusSeats, submitConsensusRequest } from "../src/actions/consensusRequest.js";
import { drawCommittee } from "../src/actions/disputeSteps.js";
import { execute } from "../src/actions/execute.js";
import { resolveDispute } from "../src/actions/resolveDispute.js";
import {
  ballotOf,
  commitDisputeVote,
  revealDisputeVote,
  showDisputeVote,
} from "../src/actions/voteDispute.js";
import { TooFewForCommitteeError } from "../src/errors.js";
import { PRICE, SecurityLevel, startNetwork, type TestNetwork, type TestNode, taskWith } from "./network.js";

const ANSWER = stringToHex("yes");
const salt = (k: number): Hex => `0x${k.toString(16).padStart(64, "0")}`;

describe("smart-contract requests with n-node Sampling Consensus against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let task: bigint;
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  beforeAll(async () => {
    // The dev parameters' dispute minimum is one; these tests play the production-like three.
    network = await startNetwork({ dispute: { minCommittee: 3 } });
    nodes = [];
    // Seven: three seats leave a dispute committee of three besides them even once the liar is slashed and a
    // late node's timeout slash leaves it below the minimum collateral.
    for (let i = 0; i < 7; i++) nodes.push(await network.addNode({ echelon: 2 }));
    task = await taskWith(network, nodes, { securityLevel: SecurityLevel.Consensus });
    await network.advance(3_600);
  }, 120_000);
  afterAll(() => network.stop());

  /** Every seat seals, then every seat reveals; returns the outcome of the last reveal. */
  async function commitAll(requestId: bigint, nodeIds: readonly bigint[], outputs: Hex[], units: bigint[]) {
    const n = nodeIds.length;
    const seat = (i: number) => ({
      requestId,
      index: i + 1,
      n,
      output: outputs[i]!,
      units: units[i]!,
      salt: salt(i),
    });
    for (const [i, id] of nodeIds.entries()) await sealConsensusResult(byId(id).signer, seat(i));
    const outcomes = [];
    for (const [i, id] of nodeIds.entries())
      outcomes.push((await revealConsensusResult(byId(id).signer, seat(i))).outcome);
    return outcomes;
  }

  it("refuses, with a named error and nothing escrowed, a request that leaves no room for a dispute committee", async () => {
    const requester = await network.account();
    const ask = (n: number) =>
      submitConsensusRequest(requester.ctx, {
        taskId: task,
        prompt: stringToHex("Every seat mine?"),
        n,
        maxUnits: 1_000n,
        maxPricePerMillion: PRICE,
        echelon: 2,
        callbackGas: 0,
      });
    // Seven nodes in the echelon: five seats would leave two, short of a three-member committee.
    const refused = await ask(5).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooFewForCommitteeError);
    expect(refused).toMatchObject({
      code: "too_few_for_committee",
      available: 7n,
      needed: 8n,
      minCommittee: 3n,
    });
    expect((refused as Error).message).toBe(
      `task ${task} has 7 eligible nodes in echelon 2 (at any price); 5 seats and a dispute committee of 3 need 8: ask for at most 4 seats`,
    );
    const escrowed = await network.deployment.contracts.token.read.balanceOf([
      network.deployment.addresses.AtomaVault,
    ]);
    await expect(ask(7)).rejects.toBeInstanceOf(TooFewForCommitteeError);
    expect(
      await network.deployment.contracts.token.read.balanceOf([network.deployment.addresses.AtomaVault]),
    ).toBe(escrowed);
  });

  it("the example consumer asks, anyone draws the seats a block later, three nodes agree, the answer is delivered", async () => {
    const { addresses, contracts } = network.deployment;
    const consumer = addresses.ExampleConsumer!;
    await network.admin.publicClient.waitForTransactionReceipt({
      hash: await contracts.token.write.transfer([consumer, parseEther("10")]),
    });
    const asked = await execute(network.admin, {
      address: consumer,
      abi: exampleConsumerAbi,
      functionName: "ask",
      args: [task, stringToHex("Fund proposal 7?"), 3, 1_000n, PRICE, 2, 200_000],
    });
    const [request] = parseEventLogs({
      abi: consensusRequestsAbi,
      logs: asked.logs,
      eventName: "ConsensusRequested",
    });
    const { requestId, drawBlock } = request!.args;
    expect(drawBlock).toBe(asked.blockNumber);
    const drawn = await drawConsensusSeats(network.admin, { requestId });
    if (drawn.outcome !== "drawn") throw new Error(`expected a draw, got ${drawn.outcome}`);
    const { nodeIds } = drawn.seats;
    expect(nodeIds).toHaveLength(3);
    // A second draw, by anyone, reads the seats that were drawn.
    expect(await drawConsensusSeats(byId(nodeIds[0]!).signer, { requestId })).toMatchObject({
      outcome: "drawn",
      seats: { nodeIds },
    });
    const outcomes = await commitAll(requestId, nodeIds, [ANSWER, ANSWER, ANSWER], [50n, 50n, 50n]);
    expect(outcomes).toEqual(["waiting", "waiting", "agreed"]);
    const delivered = await deliverConsensusResult(byId(nodeIds[0]!).signer, {
      requestId,
      output: ANSWER,
      units: 50n,
    });
    expect(delivered).toMatchObject({ units: 50n, callbackSucceeded: true });
    expect(delivered.paidNodes).toEqual([...nodeIds]);
    const answer = await network.admin.publicClient.readContract({
      address: consumer,
      abi: exampleConsumerAbi,
      functionName: "answers",
      args: [requestId],
    });
    expect(hexToString(answer)).toBe("yes");
  });

  it("a node that commits another output is outvoted by the committee and slashed", async () => {
    const requester = await network.account();
    const { requestId, seats } = await submitConsensusRequest(requester.ctx, {
      taskId: task,
      prompt: stringToHex("Is 7 prime?"),
      n: 3,
      maxUnits: 1_000n,
      maxPricePerMillion: PRICE,
      echelon: 2,
      callbackGas: 0,
    });
    const nodeIds = seats!.nodeIds;
    const outcomes = await commitAll(
      requestId,
      nodeIds,
      [ANSWER, stringToHex("no"), ANSWER],
      [40n, 40n, 40n],
    );
    expect(outcomes.at(-1)).toBe("disputed");
    const dispute = await network.deployment.contracts.disputeManager.read.disputeCount();
    // The committee is drawn from the hash of the block after the one that opened the dispute, read after it.
    await network.advance(1);
    await network.advance(1);
    const drawn = await drawCommittee(requester.ctx, { disputeId: dispute });
    if (drawn.outcome !== "drawn") throw new Error("expected a committee");
    const committee = drawn.committee;
    expect(committee).toHaveLength(3);
    const result = consensusRoot(ANSWER, 40n, 3);
    const salt = `0x${"11".repeat(32)}` as const;
    const vote = (id: bigint) => {
      // A member shows the output with its units: their leaves are the ones the seats committed.
      const ballot = ballotOf(id, result, [consensusShownOutput(ANSWER, 40n)], []);
      return { disputeId: dispute, nodeId: id, claim: ballot.claim, work: ballot.work, salt, ballot };
    };
    for (const id of committee) await commitDisputeVote(byId(id).signer, vote(id));
    for (const id of committee) {
      await revealDisputeVote(byId(id).signer, vote(id));
      await showDisputeVote(byId(id).signer, vote(id));
    }
    const resolved = await resolveDispute(requester.ctx, { disputeId: dispute });
    expect(resolved.slashed).toEqual([nodeIds[1]]);
    const delivered = await deliverConsensusResult(requester.ctx, { requestId, output: ANSWER, units: 40n });
    expect(delivered.paidNodes).toEqual([nodeIds[0], nodeIds[2]]);
    const { amount } = await withdrawBalance(requester.ctx, { account: requester.account.address });
    // The escrow less two seats' 40 units: the liar's slash pays the requester nothing.
    expect(amount).toBe(3n * ((1_000n * PRICE) / 1_000_000n) - 2n * ((40n * PRICE) / 1_000_000n));
  });

  it("goes on without a node that misses the seal deadline", async () => {
    const requester = await network.account();
    const { requestId, seats } = await submitConsensusRequest(requester.ctx, {
      taskId: task,
      prompt: stringToHex("Say hi"),
      n: 2,
      maxUnits: 100n,
      maxPricePerMillion: PRICE,
      echelon: 2,
      callbackGas: 0,
    });
    const nodeIds = seats!.nodeIds;
    expect(nodeIds).toHaveLength(2);
    const first = { requestId, index: 1, n: 2, output: ANSWER, units: 10n, salt: salt(9) };
    await sealConsensusResult(byId(nodeIds[0]!).signer, first);
    await expect(revealConsensusResult(byId(nodeIds[0]!).signer, first)).rejects.toMatchObject({
      errorName: "RevealNotOpen",
    });
    await expect(closeConsensusRound(requester.ctx, { requestId })).rejects.toMatchObject({
      errorName: "DeadlineNotPassed",
    });
    await network.advance(301);
    expect((await revealConsensusResult(byId(nodeIds[0]!).signer, first)).outcome).toBe("agreed");
    await deliverConsensusResult(requester.ctx, { requestId, output: ANSWER, units: 10n });
  });

  it("a request nobody can serve is answered with the refusal, for nothing, and nobody is slashed", async () => {
    const requester = await network.account();
    const { requestId, seats } = await submitConsensusRequest(requester.ctx, {
      taskId: task,
      prompt: stringToHex("x".repeat(4_000)),
      n: 2,
      maxUnits: 100n,
      maxPricePerMillion: PRICE,
      echelon: 2,
      callbackGas: 0,
    });
    const nodeIds = seats!.nodeIds;
    await commitAll(requestId, nodeIds, [CONSENSUS_REFUSAL, CONSENSUS_REFUSAL], [0n, 0n]);
    const delivered = await deliverConsensusResult(requester.ctx, {
      requestId,
      output: CONSENSUS_REFUSAL,
      units: 0n,
    });
    expect(delivered.paidNodes).toEqual([...nodeIds]);
    const { amount } = await withdrawBalance(requester.ctx, { account: requester.account.address });
    expect(amount).toBe(2n * ((100n * PRICE) / 1_000_000n));
  });
});
