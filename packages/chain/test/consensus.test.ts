import { consensusRequestsAbi, exampleConsumerAbi } from "@atoma/contracts";
import { consensusRoot } from "@atoma/core";
import { hexToString, parseEther, parseEventLogs, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withdrawBalance } from "../src/actions/claimFees.js";
import {
  commitConsensusResult,
  deliverConsensusResult,
  submitConsensusRequest,
  timeoutConsensusCommits,
} from "../src/actions/consensusRequest.js";
import { drawCommittee } from "../src/actions/disputeSteps.js";
import { execute } from "../src/actions/execute.js";
import { resolveDispute } from "../src/actions/resolveDispute.js";
import {
  ballotOf,
  commitDisputeVote,
  revealDisputeVote,
  showDisputeVote,
} from "../src/actions/voteDispute.js";
import { PRICE, SecurityLevel, startNetwork, type TestNetwork, type TestNode, taskWith } from "./network.js";

const ANSWER = stringToHex("yes");

describe("smart-contract requests with n-node Sampling Consensus against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let task: bigint;
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  beforeAll(async () => {
    network = await startNetwork();
    nodes = [];
    for (let i = 0; i < 6; i++) nodes.push(await network.addNode({ echelon: 2 }));
    task = await taskWith(network, nodes, { securityLevel: SecurityLevel.Consensus });
    await network.advance(3_600);
  }, 120_000);
  afterAll(() => network.stop());

  it("the example consumer asks, three nodes agree, and the answer is delivered to the contract", async () => {
    const { addresses, contracts } = network.deployment;
    const consumer = addresses.ExampleConsumer!;
    await network.admin.publicClient.waitForTransactionReceipt({
      hash: await contracts.token.write.mint([consumer, parseEther("10")]),
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
    const { requestId, nodeIds } = request!.args;
    expect(nodeIds).toHaveLength(3);
    const outcomes = [];
    for (const [i, id] of nodeIds.entries()) {
      outcomes.push(
        (
          await commitConsensusResult(byId(id).signer, {
            requestId,
            index: i + 1,
            n: 3,
            output: ANSWER,
            units: 50n,
          })
        ).outcome,
      );
    }
    expect(outcomes).toEqual(["waiting", "waiting", "agreed"]);
    const delivered = await deliverConsensusResult(byId(nodeIds[0]!).signer, { requestId, output: ANSWER });
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
    const { requestId, nodeIds } = await submitConsensusRequest(requester.ctx, {
      taskId: task,
      prompt: stringToHex("Is 7 prime?"),
      n: 3,
      maxUnits: 1_000n,
      maxPricePerMillion: PRICE,
      echelon: 2,
      callbackGas: 0,
    });
    const outputs = [ANSWER, stringToHex("no"), ANSWER];
    let outcome = "waiting";
    for (const [i, id] of nodeIds.entries()) {
      outcome = (
        await commitConsensusResult(byId(id).signer, {
          requestId,
          index: i + 1,
          n: 3,
          output: outputs[i]!,
          units: 40n,
        })
      ).outcome;
    }
    expect(outcome).toBe("disputed");
    const dispute = await network.deployment.contracts.disputeManager.read.disputeCount();
    // The committee is drawn from the hash of a block after the one that opened the dispute.
    await network.advance(1);
    const drawn = await drawCommittee(requester.ctx, { disputeId: dispute });
    if (drawn.outcome !== "drawn") throw new Error("expected a committee");
    const committee = drawn.committee;
    expect(committee).toHaveLength(3);
    const result = consensusRoot(ANSWER, 3);
    const salt = `0x${"11".repeat(32)}` as const;
    const vote = (id: bigint) => {
      const ballot = ballotOf(id, result, [ANSWER], []);
      return { disputeId: dispute, nodeId: id, claim: ballot.claim, work: ballot.work, salt, ballot };
    };
    for (const id of committee) await commitDisputeVote(byId(id).signer, vote(id));
    for (const id of committee) {
      await revealDisputeVote(byId(id).signer, vote(id));
      await showDisputeVote(byId(id).signer, vote(id));
    }
    const resolved = await resolveDispute(requester.ctx, { disputeId: dispute });
    expect(resolved.slashed).toEqual([nodeIds[1]]);
    const delivered = await deliverConsensusResult(requester.ctx, { requestId, output: ANSWER });
    expect(delivered.paidNodes).toEqual([nodeIds[0], nodeIds[2]]);
    const { amount } = await withdrawBalance(requester.ctx, { account: requester.account.address });
    expect(amount).toBeGreaterThan(3n * ((1_000n * PRICE) / 1_000_000n));
  });

  it("goes on without a node that misses the commit deadline", async () => {
    const requester = await network.account();
    const { requestId, nodeIds } = await submitConsensusRequest(requester.ctx, {
      taskId: task,
      prompt: stringToHex("Say hi"),
      n: 2,
      maxUnits: 100n,
      maxPricePerMillion: PRICE,
      echelon: 2,
      callbackGas: 0,
    });
    expect(nodeIds).toHaveLength(2);
    await commitConsensusResult(byId(nodeIds[0]!).signer, {
      requestId,
      index: 1,
      n: 2,
      output: ANSWER,
      units: 10n,
    });
    await expect(timeoutConsensusCommits(requester.ctx, { requestId })).rejects.toMatchObject({
      errorName: "DeadlineNotPassed",
    });
    await network.advance(301);
    expect((await timeoutConsensusCommits(requester.ctx, { requestId })).outcome).toBe("agreed");
    await deliverConsensusResult(requester.ctx, { requestId, output: ANSWER });
  });
});
