import { DisputeStatus, SettlementPhase } from "@atoma/contracts";
import { keccak256, type LocalAccount, stringToHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  findArmedAttesterDraws,
  findArmedNodeDraws,
  readArmedAttesterDraw,
} from "../src/actions/armedDraws.js";
import { buyStack } from "../src/actions/buyStack.js";
import { commitAttestation, sendAttestationCommitment } from "../src/actions/commitAttestation.js";
import {
  findConsensusPrompt,
  readConsensusRequest,
  readMaxOutputBytes,
} from "../src/actions/consensusReads.js";
import { submitConsensusRequest } from "../src/actions/consensusRequest.js";
import type { ChainContext } from "../src/actions/context.js";
import { findDisputeEvidence, readCommittee, readDispute } from "../src/actions/disputeReads.js";
import { drawCommittee, postDisputeEvidence } from "../src/actions/disputeSteps.js";
import { drawAttestersUntilDone } from "../src/actions/drawAttesters.js";
import { feeEpoch } from "../src/actions/feeEpoch.js";
import { getAttesters, getSampledIndices, getSettlement } from "../src/actions/getSettlement.js";
import { latestBlock } from "../src/actions/latestBlock.js";
import { openAttestation } from "../src/actions/openAttestation.js";
import { revealSettlement } from "../src/actions/revealSettlement.js";
import {
  findPostedSampledRequests,
  findSettlementDispute,
  findSettlementSubmission,
} from "../src/actions/settlementLogs.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import { declareTranscriptUnavailable, postSampledRequests } from "../src/actions/transcriptFallback.js";
import { attestationCommitment, attestationResult, randomSalt } from "../src/commitments.js";
import {
  PRICE,
  SecurityLevel,
  sampled,
  serveStack,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "./network.js";

const UNITS = 1_000_000n;
const TRANSCRIPT = `0x${"cd".repeat(32)}` as const;

describe("the reads a node's seat makes, against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let verifiedTask: bigint;
  let user: { account: LocalAccount; ctx: ChainContext };
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  beforeAll(async () => {
    network = await startNetwork();
    nodes = [];
    for (let i = 0; i < 7; i++) nodes.push(await network.addNode());
    verifiedTask = await taskWith(network, nodes, {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 3,
    });
    user = await network.account();
    await network.advance(3_600);
  }, 120_000);
  afterAll(() => network.stop());

  /** Buys, serves and submits a verified stack without drawing its attesters; `variant` is what the server ran. */
  async function submitted(variant = "honest") {
    const fromBlock = (await latestBlock(user.ctx)).number + 1n;
    const stack = await buyStack(user.ctx, {
      taskId: verifiedTask,
      units: UNITS,
      maxPricePerMillion: PRICE,
      duration: 86_400n,
    });
    const server = byId(stack.nodeId);
    const served = await serveStack(network, stack.stackId, user.account, server, 5, variant, UNITS);
    const settled = await submitSettlement(
      server.signer,
      {
        stackId: stack.stackId,
        root: served.tree.root,
        units: UNITS,
        requestCount: BigInt(served.leaves.length),
        transcriptId: TRANSCRIPT,
      },
      { draw: false },
    );
    if (settled.outcome !== "drawPending") throw new Error("expected a pending attester draw");
    return { stackId: stack.stackId, server, served, candidates: settled.candidates, fromBlock };
  }

  it("the chain clock, the draws armed, a settlement's phase, attesters, sample and logged submission", async () => {
    const { stackId, server, candidates, fromBlock } = await submitted();
    const latest = await latestBlock(user.ctx);
    expect(latest.timestamp).toBe(await network.now());
    const range = { fromBlock, toBlock: latest.number };
    const nodeDraws = await findArmedNodeDraws(user.ctx, range);
    expect(nodeDraws.map((draw) => draw.stackId)).toContain(stackId);
    const armed = await readArmedAttesterDraw(user.ctx, stackId);
    expect(armed.armedAt).toBeGreaterThan(0n);
    const attesterDraws = await findArmedAttesterDraws(user.ctx, range);
    expect(attesterDraws.find((draw) => draw.stackId === stackId)?.armedAt).toBe(armed.armedAt);
    expect((await getSettlement(user.ctx, stackId)).phase).toBe(SettlementPhase.Drawing);

    const drawn = await drawAttestersUntilDone(user.ctx, { stackId, candidates });
    if (drawn.outcome !== "sampled") throw new Error("p = 1 must sample");
    expect((await readArmedAttesterDraw(user.ctx, stackId)).armedAt).toBe(0n);
    expect((await getSettlement(user.ctx, stackId)).phase).toBe(SettlementPhase.Commit);
    expect((await getAttesters(user.ctx, stackId)).map((a) => a.nodeId)).toEqual(drawn.attesters);
    expect(await getSampledIndices(user.ctx, stackId)).toEqual(drawn.requestIndices);
    const now = await latestBlock(user.ctx);
    expect(await findSettlementSubmission(user.ctx, { stackId, fromBlock, toBlock: now.number })).toEqual({
      nodeId: server.nodeId,
      transcriptId: TRANSCRIPT,
    });
    expect(
      await findSettlementSubmission(user.ctx, { stackId, fromBlock, toBlock: fromBlock }),
    ).toBeUndefined();
    expect(await feeEpoch(user.ctx)).toBe(await network.deployment.contracts.vault.read.currentEpoch());
  });

  it("the requests a server posted on chain, and a commitment sent as made", async () => {
    const { stackId, server, served, candidates, fromBlock } = await submitted();
    const drawn = await drawAttestersUntilDone(user.ctx, { stackId, candidates });
    if (drawn.outcome !== "sampled") throw new Error("p = 1 must sample");
    const [first, second] = drawn.attesters as [bigint, bigint];
    await declareTranscriptUnavailable(byId(first).signer, { stackId, nodeId: first });
    const sample = sampled(served, drawn.requestIndices);
    await postSampledRequests(server.signer, { stackId, requests: sample.requests });
    const posted = await findPostedSampledRequests(user.ctx, { stackId, fromBlock });
    expect(posted.map((request) => [Number(request.position), request.reqHash])).toEqual(
      sample.reqHashes.map((reqHash, position) => [position, reqHash]),
    );
    expect(posted.map((request) => request.request?.body)).toEqual(sample.requests.map((r) => r.body));

    const commitment = attestationCommitment(first, attestationResult(sample.sample), randomSalt());
    const sent = await sendAttestationCommitment(byId(first).signer, { stackId, nodeId: first, commitment });
    expect(sent.revealDeadline).toBeUndefined();
    expect((await getAttesters(user.ctx, stackId)).find((a) => a.nodeId === first)?.commitment).toBe(
      commitment,
    );
    const last = await commitAttestation(byId(second).signer, {
      stackId,
      nodeId: second,
      sample: sample.sample,
      salt: randomSalt(),
    });
    expect(last.revealDeadline).toBeGreaterThan(0n);
  });

  it("the dispute opened on a settlement, its committee and the evidence posted to it", async () => {
    const { stackId, server, served: lies, candidates, fromBlock } = await submitted("cheaper model");
    const drawn = await drawAttestersUntilDone(user.ctx, { stackId, candidates });
    if (drawn.outcome !== "sampled") throw new Error("p = 1 must sample");
    const truth = await serveStack(network, stackId, user.account, server, 5, "honest", UNITS);
    const honest = sampled(truth, drawn.requestIndices).sample;
    const salts = new Map(drawn.attesters.map((id) => [id, randomSalt()]));
    for (const id of drawn.attesters)
      await commitAttestation(byId(id).signer, { stackId, nodeId: id, sample: honest, salt: salts.get(id)! });
    const lied = sampled(lies, drawn.requestIndices);
    await revealSettlement(server.signer, { stackId, ...lied });
    for (const id of drawn.attesters)
      await openAttestation(byId(id).signer, {
        stackId,
        nodeId: id,
        result: attestationResult(honest),
        salt: salts.get(id)!,
      });
    const disputeId = await findSettlementDispute(user.ctx, { stackId, fromBlock });
    if (disputeId === undefined) throw new Error("expected a dispute");
    expect((await readDispute(user.ctx, disputeId)).status).toBe(DisputeStatus.Open);
    await postDisputeEvidence(server.signer, {
      disputeId,
      requests: lied.requests,
      reqHashes: lied.sampled.map((leaf) => leaf.reqHash),
    });
    const evidence = await findDisputeEvidence(user.ctx, { disputeId, fromBlock });
    expect(evidence.map((posted) => Number(posted.position))).toEqual(lied.requests.map((_, k) => k));
    expect(evidence.map((posted) => posted.request?.body)).toEqual(lied.requests.map((r) => r.body));
    // The post that completed the evidence armed the draw on its own block: the seed is the next one, read after it.
    await network.advance(1);
    await network.advance(1);
    const committee = await drawCommittee(user.ctx, { disputeId });
    if (committee.outcome !== "drawn") throw new Error("expected a committee");
    expect((await readCommittee(user.ctx, disputeId)).map((member) => member.nodeId)).toEqual(
      committee.committee,
    );
  });

  it("a consensus request, its logged prompt and the output bound", async () => {
    const requester = await network.account();
    const consensusTask = await taskWith(network, nodes, { securityLevel: SecurityLevel.Consensus });
    await network.advance(3_600);
    const fromBlock = (await latestBlock(user.ctx)).number + 1n;
    const prompt = stringToHex("Is the seat one?");
    const asked = await submitConsensusRequest(requester.ctx, {
      taskId: consensusTask,
      prompt,
      n: 3,
      maxUnits: 1_000n,
      maxPricePerMillion: PRICE,
      echelon: 1,
      callbackGas: 0,
    });
    const request = await readConsensusRequest(user.ctx, asked.requestId);
    expect(request).toMatchObject({
      n: 3,
      taskId: consensusTask,
      maxUnits: 1_000n,
      promptHash: keccak256(prompt),
    });
    expect(await findConsensusPrompt(user.ctx, { requestId: asked.requestId, fromBlock })).toBe(prompt);
    expect(
      await findConsensusPrompt(user.ctx, { requestId: asked.requestId + 1n, fromBlock }),
    ).toBeUndefined();
    const params = await network.deployment.contracts.consensusRequests.read.params();
    expect(await readMaxOutputBytes(user.ctx)).toBe(Number(params[4]));
  });
});
