import { DisputeOutcome } from "@atoma/contracts";
import type { RecomputedSample } from "@atoma/core";
import { atomaDomain, signRequest } from "@atoma/core";
import { parseNetwork } from "@atoma/sdk";
import { encodeAbiParameters, type Hash, keccak256, type LocalAccount } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { named } from "../../../apps/explorer/src/chain/chainEvent.js";
import { ChainFeed } from "../../../apps/explorer/src/chain/chainFeed.js";
import { totalsOf } from "../../../apps/explorer/src/chain/summary.js";
import { buyStack, closeStack } from "../src/actions/buyStack.js";
import { answerChallenge, challengeSettlement } from "../src/actions/challengeSettlement.js";
import { claimEmission } from "../src/actions/claimEmission.js";
import { claimNodeFees, claimOwnerFees, withdrawBalance } from "../src/actions/claimFees.js";
import { commitAttestation } from "../src/actions/commitAttestation.js";
import type { ChainContext } from "../src/actions/context.js";
import { drawCommittee, postDisputeEvidence } from "../src/actions/disputeSteps.js";
import { drawAttesters } from "../src/actions/drawAttesters.js";
import { finalizeSettlement } from "../src/actions/finalizeSettlement.js";
import { answerIndexChallenge, challengeLeafIndex } from "../src/actions/indexChallenge.js";
import { type AttestationComparison, openAttestation } from "../src/actions/openAttestation.js";
import { resolveDispute } from "../src/actions/resolveDispute.js";
import { revealSettlement } from "../src/actions/revealSettlement.js";
import { failVerification, timeoutAttesters, timeoutSettlement } from "../src/actions/settlementDeadlines.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import { subscribe } from "../src/actions/subscribe.js";
import {
  declareTranscriptUnavailable,
  postSampledRequest,
  postSampledRequests,
  readMaxRequestBytes,
} from "../src/actions/transcriptFallback.js";
import {
  commitDisputeVote,
  revealDisputeVote,
  settlementBallotOf,
  showDisputeVote,
} from "../src/actions/voteDispute.js";
import { attestationResult, randomSalt } from "../src/commitments.js";
import {
  PRICE,
  SecurityLevel,
  type ServedStack,
  sampled,
  serveStack,
  startNetwork,
  type TestNetwork,
  type TestNode,
  taskWith,
} from "./network.js";

const HOUR = 3_600;
const UNITS = 1_000_000n;

describe("stacks, settlement, attestation, disputes and claims against anvil", () => {
  let network: TestNetwork;
  let nodes: TestNode[];
  let plainTask: bigint;
  let verifiedTask: bigint;
  let user: { account: LocalAccount; ctx: ChainContext };
  const byId = (id: bigint) => nodes.find((n) => n.nodeId === id)!;

  beforeAll(async () => {
    network = await startNetwork();
    nodes = [];
    for (let i = 0; i < 7; i++) nodes.push(await network.addNode());
    plainTask = await taskWith(network, nodes, { securityLevel: SecurityLevel.None });
    verifiedTask = await taskWith(network, nodes, {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 3,
    });
    user = await network.account();
    await network.advance(HOUR);
  }, 120_000);
  afterAll(() => network.stop());

  /** Each attester's salt, secret until it opens (a node derives its own from its key). */
  const salts = new Map<string, Hash>();
  const saltOf = (stackId: bigint, id: bigint) => {
    const key = `${stackId}/${id}`;
    if (!salts.has(key)) salts.set(key, randomSalt());
    return salts.get(key)!;
  };
  const commit = (stackId: bigint, id: bigint, sample: RecomputedSample) =>
    commitAttestation(byId(id).signer, { stackId, nodeId: id, sample, salt: saltOf(stackId, id) });
  const open = (stackId: bigint, id: bigint, sample: RecomputedSample) =>
    openAttestation(byId(id).signer, {
      stackId,
      nodeId: id,
      result: attestationResult(sample),
      salt: saltOf(stackId, id),
    });
  /** Every attester opens its commitment to `sample`; the last opening compares them with the server's result. */
  async function openAll(stackId: bigint, ids: readonly bigint[], sample: RecomputedSample) {
    let compared: AttestationComparison | undefined;
    for (const id of ids) compared = (await open(stackId, id, sample)).compared;
    if (!compared) throw new Error("the last opening compares");
    return compared;
  }

  const buy = (taskId: bigint, units = UNITS) =>
    buyStack(user.ctx, { taskId, units, maxPricePerMillion: PRICE, duration: 86_400n });

  async function settle(stackId: bigint, server: TestNode, served: ServedStack, units: bigint) {
    return submitSettlement(server.signer, {
      stackId,
      root: served.tree.root,
      units,
      requestCount: BigInt(served.reqHashes.length),
      transcriptId: `0x${"ab".repeat(32)}`,
    });
  }

  /** A stack of the verified task, `count` requests served honestly (`units` in all), settled at UNITS and sampled. */
  async function sampledSettlement(count: number, units = UNITS) {
    const stack = await buy(verifiedTask);
    const server = byId(stack.nodeId);
    const served = await serveStack(network, stack.stackId, user.account, server, count, "honest", units);
    const settled = await settle(stack.stackId, server, served, UNITS);
    if (!settled.sampled) throw new Error("p = 1 must sample");
    return { stack, server, served, settled };
  }

  /** A stack of the plain task with 3 requests served, settled at `units`. */
  async function plainSettlement(units: bigint) {
    const stack = await buy(plainTask);
    const server = byId(stack.nodeId);
    const served = await serveStack(network, stack.stackId, user.account, server, 3);
    await settle(stack.stackId, server, served, units);
    return { stack, server, served };
  }

  /** The owner challenges `stackId`'s settlement with one of its node-signed responses. */
  const challengeWith = (stackId: bigint, response: ServedStack["responses"][number]) =>
    challengeSettlement(user.ctx, { stackId, response: response.fields, signature: response.signature });

  /**
   * A server settles a stack of `count` requests served by a cheaper model; its attesters commit to the honest
   * answers, so its reveal is disputed.
   */
  async function caughtLying(count: number) {
    const stack = await buy(verifiedTask);
    const server = byId(stack.nodeId);
    const lies = await serveStack(
      network,
      stack.stackId,
      user.account,
      server,
      count,
      "cheaper model",
      UNITS,
    );
    const honest = await serveStack(network, stack.stackId, user.account, server, count, "honest", UNITS);
    const settled = await settle(stack.stackId, server, lies, UNITS);
    if (!settled.sampled) throw new Error("p = 1 must sample");
    const truth = sampled(honest, settled.requestIndices).sample;
    for (const id of settled.attesters) await commit(stack.stackId, id, truth);
    await revealSettlement(server.signer, {
      stackId: stack.stackId,
      ...sampled(lies, settled.requestIndices),
    });
    const revealed = await openAll(stack.stackId, settled.attesters, truth);
    if (revealed.outcome !== "disputed") throw new Error("expected a dispute");
    return { stack, server, lies, honest, settled, truth, revealed };
  }

  it("settles an unverified stack: fee to the node, share to the model owner, unused units back, claims after the epoch", async () => {
    const stack = await buy(plainTask);
    expect(stack.escrow).toBe(PRICE);
    const server = byId(stack.nodeId);
    const served = await serveStack(network, stack.stackId, user.account, server, 4);
    const settled = await settle(stack.stackId, server, served, 600_000n);
    expect(settled.sampled).toBe(false);
    await expect(finalizeSettlement(user.ctx, { stackIds: [stack.stackId] })).rejects.toMatchObject({
      errorName: "ChallengeWindowOpen",
    });
    await network.advance(601);
    const { stacks } = await finalizeSettlement(user.ctx, { stackIds: [stack.stackId] });
    expect(stacks[0]).toMatchObject({
      nodeAmount: 1_140_000_000_000_000_000n,
      modelAmount: 60_000_000_000_000_000n,
    });
    expect(stacks[0]!.refunded).toBe(800_000_000_000_000_000n);
    const epoch = await network.deployment.contracts.nodeRegistry.read.currentEpoch();
    await expect(
      claimNodeFees(server.signer, { nodeId: server.nodeId, epochs: [epoch] }),
    ).rejects.toMatchObject({
      errorName: "EpochNotEnded",
    });
    await network.advance(HOUR);
    const claim = await claimNodeFees(server.signer, { nodeId: server.nodeId, epochs: [epoch] });
    // The fee less its burn (5 % at the dev parameters), which is what earns it emission.
    expect(claim.amount).toBeGreaterThanOrEqual(1_083_000_000_000_000_000n);
    expect(claim.operator).toBe(server.operator.walletClient.account.address);
    await expect(
      claimNodeFees(server.signer, { nodeId: server.nodeId, epochs: [epoch] }),
    ).rejects.toMatchObject({
      errorName: "NothingToClaim",
    });
    const refund = await withdrawBalance(user.ctx, { account: user.account.address });
    expect(refund.amount).toBe(800_000_000_000_000_000n);
    const emission = await claimEmission(server.signer, { kind: "node", nodeId: server.nodeId, epoch });
    expect(emission.amount).toBeGreaterThan(0n);
  });

  it("only the selected node settles, within what was bought", async () => {
    const stack = await buy(plainTask, 1_000n);
    const server = byId(stack.nodeId);
    const other = nodes.find((n) => n !== server)!;
    const served = await serveStack(network, stack.stackId, user.account, server, 2);
    await expect(settle(stack.stackId, other, served, 10n)).rejects.toMatchObject({
      errorName: "NotServingNode",
    });
    await expect(settle(stack.stackId, server, served, 1_001n)).rejects.toMatchObject({
      errorName: "UnitsExceedStack",
    });
    const closed = await closeStack(user.ctx, { stackId: stack.stackId });
    expect(closed.settleDeadline).toBe((await network.now()) + 600n);
    await settle(stack.stackId, server, served, 200n);
  });

  it("samples attesters (never the server, never twice) who commit, then the server reveals and is paid", async () => {
    const { stack, server, served, settled } = await sampledSettlement(6);
    expect(stack.escrow).toBe(PRICE + PRICE / 10n);
    expect(settled.attesters).toHaveLength(2);
    expect(settled.attesters).not.toContain(server.nodeId);
    expect(new Set(settled.attesters).size).toBe(2);
    expect(settled.requestIndices).toHaveLength(3);
    const sample = sampled(served, settled.requestIndices);
    const first = await commit(stack.stackId, settled.attesters[0]!, sample.sample);
    expect(first.revealDeadline).toBeUndefined();
    const second = await commit(stack.stackId, settled.attesters[1]!, sample.sample);
    expect(second.revealDeadline).toBeDefined();
    const revealed = await revealSettlement(server.signer, { stackId: stack.stackId, ...sample });
    expect(revealed.result).toBe(attestationResult(sample.sample));
    expect(revealed.openDeadline).toBeGreaterThan(0n);
    const opened = await open(stack.stackId, settled.attesters[0]!, sample.sample);
    expect(opened).toMatchObject({ agreed: true, compared: undefined });
    const compared = await openAll(stack.stackId, [settled.attesters[1]!], sample.sample);
    expect(compared.outcome).toBe("accepted");
    expect(compared.agreeing).toEqual(settled.attesters);
    await network.advance(601);
    const { stacks } = await finalizeSettlement(user.ctx, { stackIds: [stack.stackId] });
    expect(stacks[0]!.attesterAmountEach).toBe(PRICE / 20n);
    expect(stacks[0]!.refunded).toBe(0n);
  });

  it("opens a commitment only with its own salt and result; an attester that never opens is slashed in full and the settlement completes without it (issue 10, L1)", async () => {
    const { contracts } = network.deployment;
    const { stack, server, served, settled } = await sampledSettlement(4);
    const sample = sampled(served, settled.requestIndices);
    const [opener, silent] = settled.attesters as [bigint, bigint];
    // A peer that knows the server's claim cannot test a commitment against it without the salt.
    const committed = await commit(stack.stackId, opener, sample.sample);
    expect(committed.result).toBe(attestationResult(sample.sample));
    const onChain = (await contracts.settlementManager.read.attestersOf([stack.stackId])).find(
      (a) => a.nodeId === opener,
    )!.commitment;
    expect(onChain).toBe(committed.commitment);
    const unsalted = keccak256(
      encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [opener, committed.result]),
    );
    expect(onChain).not.toBe(unsalted);
    await commit(stack.stackId, silent, sample.sample);
    await expect(open(stack.stackId, opener, sample.sample)).rejects.toMatchObject({
      errorName: "WrongPhase",
    });
    const revealed = await revealSettlement(server.signer, { stackId: stack.stackId, ...sample });
    await expect(
      openAttestation(byId(opener).signer, {
        stackId: stack.stackId,
        nodeId: opener,
        result: revealed.result,
        salt: randomSalt(),
      }),
    ).rejects.toMatchObject({ errorName: "WrongOpening" });
    expect((await open(stack.stackId, opener, sample.sample)).compared).toBeUndefined();
    await expect(timeoutAttesters(user.ctx, { stackId: stack.stackId })).rejects.toMatchObject({
      errorName: "DeadlineNotPassed",
    });
    await network.advance(Number(revealed.openDeadline - (await network.now())) + 1);
    await expect(open(stack.stackId, silent, sample.sample)).rejects.toMatchObject({
      errorName: "DeadlinePassed",
    });
    const timedOut = await timeoutAttesters(user.ctx, { stackId: stack.stackId });
    expect(timedOut.timedOut).toEqual([silent]);
    expect(timedOut.compared).toMatchObject({ outcome: "accepted", agreeing: [opener], dissenting: [] });
    // It committed, saw the reveal and stayed closed: that choice costs all its collateral, as a lost dispute.
    expect((await contracts.nodeRegistry.read.getNode([silent])).collateral).toBe(0n);
    expect((await contracts.nodeRegistry.read.getNode([opener])).collateral).toBe(1_000n * 10n ** 18n);
    await network.advance(601);
    const { stacks } = await finalizeSettlement(user.ctx, { stackIds: [stack.stackId] });
    expect(stacks[0]!.nodeAmount).toBe((PRICE * 95n) / 100n);
    expect(stacks[0]!.attesterAmountEach).toBe(PRICE / 10n);
    // A node slashed in full is barred for good: a fresh one takes its place for the tests after this one.
    const fresh = await network.addNode();
    nodes.push(fresh);
    for (const taskId of [plainTask, verifiedTask]) {
      await subscribe(fresh.signer, {
        taskId,
        nodeId: fresh.nodeId,
        pricePerMillion: PRICE,
        capacity: 10n ** 12n,
      });
    }
  });

  it("catches a server that served another model: the committee outvotes it and it loses its collateral", async () => {
    const { contracts } = network.deployment;
    const { server, lies, honest, settled, truth, revealed } = await caughtLying(5);
    expect(revealed.dissenting).toEqual(settled.attesters);
    // The server posts what it settled; the committee is drawn from a later block.
    const lied = sampled(lies, settled.requestIndices);
    const evidence = await postDisputeEvidence(server.signer, {
      disputeId: revealed.disputeId,
      requests: lied.requests,
      reqHashes: lied.sampled.map((leaf) => leaf.reqHash),
    });
    expect(evidence).toHaveLength(1);
    // The post that completed the evidence armed the draw on its own block: the seed is the next one, read after it.
    await network.advance(1);
    await network.advance(1);
    const drawn = await drawCommittee(user.ctx, { disputeId: revealed.disputeId });
    if (drawn.outcome !== "drawn") throw new Error("expected a committee");
    expect(drawn.voteOpened).toBe(true);
    expect(drawn.committee).toHaveLength(3);
    for (const id of drawn.committee) expect([server.nodeId, ...settled.attesters]).not.toContain(id);
    const result = attestationResult(truth);
    const outputs = sampled(honest, settled.requestIndices).outputs;
    const votes = drawn.committee.map((id) => ({
      id,
      ballot: settlementBallotOf(id, outputs),
      salt: `0x${id.toString(16).padStart(64, "0")}` as const,
    }));
    const params = (v: (typeof votes)[number]) => ({
      disputeId: revealed.disputeId,
      nodeId: v.id,
      claim: v.ballot.claim,
      work: v.ballot.work,
      salt: v.salt,
    });
    for (const v of votes) await commitDisputeVote(byId(v.id).signer, params(v));
    for (const v of votes) {
      await revealDisputeVote(byId(v.id).signer, params(v));
      const shown = await showDisputeVote(byId(v.id).signer, {
        disputeId: revealed.disputeId,
        nodeId: v.id,
        ballot: v.ballot,
      });
      expect(shown).toHaveLength(1);
    }
    const before = await contracts.vault.read.balanceOf([user.account.address]);
    const resolved = await resolveDispute(user.ctx, { disputeId: revealed.disputeId });
    expect(resolved).toMatchObject({
      decided: true,
      winner: result,
      outcome: DisputeOutcome.Decided,
      slashed: [server.nodeId],
    });
    const cheater = await contracts.nodeRegistry.read.getNode([server.nodeId]);
    expect(cheater).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    const refund = (await contracts.vault.read.balanceOf([user.account.address])) - before;
    expect(refund).toBe(PRICE + (10n ** 21n * 3_000n) / 10_000n);
  });

  it("a caught server that withholds the disputed requests loses once the evidence window closes", async () => {
    const { contracts } = network.deployment;
    const { stack, server, revealed } = await caughtLying(4);
    await expect(resolveDispute(user.ctx, { disputeId: revealed.disputeId })).rejects.toMatchObject({
      errorName: "TooEarly",
    });
    await network.advance(301);
    const resolved = await resolveDispute(user.ctx, { disputeId: revealed.disputeId });
    expect(resolved).toMatchObject({
      decided: false,
      outcome: DisputeOutcome.Withheld,
      slashed: [server.nodeId],
    });
    expect((await contracts.settlementManager.read.getSettlement([stack.stackId])).phase).toBe(6);
  });

  it("posts the sampled requests on-chain, one per transaction, when an attester says it cannot fetch the transcript; the false declaration costs the declarer its share", async () => {
    const { contracts } = network.deployment;
    const { stack, server, served, settled } = await sampledSettlement(4);
    const attester = byId(settled.attesters[0]!);
    await declareTranscriptUnavailable(attester.signer, { stackId: stack.stackId, nodeId: attester.nodeId });
    const sample = sampled(served, settled.requestIndices);
    const posted = await postSampledRequests(server.signer, {
      stackId: stack.stackId,
      requests: sample.requests,
    });
    expect(posted).toHaveLength(sample.requests.length);
    for (const [position, reqHash] of sample.reqHashes.entries())
      expect(await contracts.settlementEvidence.read.postedRequest([stack.stackId, BigInt(position)])).toBe(
        reqHash,
      );
    for (const id of settled.attesters) await commit(stack.stackId, id, sample.sample);
    await revealSettlement(server.signer, { stackId: stack.stackId, ...sample });
    expect((await openAll(stack.stackId, settled.attesters, sample.sample)).outcome).toBe("accepted");
    await network.advance(601);
    const epoch = await contracts.nodeRegistry.read.currentEpoch();
    const declarerBefore = (await contracts.vault.read.nodeLedger([attester.nodeId, epoch]))[0];
    const { stacks } = await finalizeSettlement(user.ctx, { stackIds: [stack.stackId] });
    expect(stacks[0]!.nodeAmount).toBe((PRICE * 95n) / 100n);
    expect((await contracts.vault.read.nodeLedger([attester.nodeId, epoch]))[0]).toBe(declarerBefore);
  });

  it("bounds every request a server may have to post so one posting fits a block (item 7)", async () => {
    const { stack, server, settled } = await sampledSettlement(2, 200n);
    const attester = byId(settled.attesters[0]!);
    await declareTranscriptUnavailable(attester.signer, { stackId: stack.stackId, nodeId: attester.nodeId });
    const max = await readMaxRequestBytes(user.ctx);
    // Position 0 stands for the first sampled index: the request posted there carries it as its nonce.
    const first = settled.requestIndices[0]!;
    const request = async (length: number, nonce = first) => {
      const body = `0x${"7b".repeat(length)}` as const;
      const fields = {
        stackId: stack.stackId,
        reqHash: keccak256(body),
        nonce,
        deadline: 2_000_000_000n,
        maxUnits: 1_000_000n,
      };
      const domain = atomaDomain(network.anvil.chainId, network.deployment.addresses.StackManager);
      return {
        body,
        nonce,
        deadline: fields.deadline,
        maxUnits: fields.maxUnits,
        signature: await signRequest(user.account, domain, fields),
      };
    };
    await expect(
      postSampledRequest(server.signer, {
        stackId: stack.stackId,
        position: 0,
        request: await request(max + 1),
      }),
    ).rejects.toMatchObject({ errorName: "RequestTooLarge" });
    // Another of the owner's requests (signed for another index) cannot stand in for the sampled one.
    await expect(
      postSampledRequest(server.signer, {
        stackId: stack.stackId,
        position: 0,
        request: await request(max, first + 1n),
      }),
    ).rejects.toMatchObject({ errorName: "PostedNonceNotIndex" });
    const fits = await postSampledRequest(server.signer, {
      stackId: stack.stackId,
      position: 0,
      request: await request(max),
    });
    const { gasLimit } = await network.admin.publicClient.getBlock();
    expect(fits.gasUsed).toBeLessThan(gasLimit / 2n);
  });

  it("refuses a verified stack on a node too few others could check (item 4)", async () => {
    const lone = await network.addNode({ echelon: 3 }); // approved (0–3), and no other node of this file is in it
    const task = await taskWith(network, [lone], {
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 1,
      sampleSize: 1,
    });
    await network.advance(HOUR);
    await expect(buy(task)).rejects.toMatchObject({ errorName: "TooFewVerifiers" });
  });

  it("fails a server that withholds the reveal, and replaces a silent attester", async () => {
    const { contracts } = network.deployment;
    const { stack, server, served, settled } = await sampledSettlement(3);
    const sample = sampled(served, settled.requestIndices);
    const [talker, silent] = settled.attesters as [bigint, bigint];
    await commit(stack.stackId, talker, sample.sample);
    await network.advance(301);
    const timedOut = await timeoutAttesters(user.ctx, { stackId: stack.stackId });
    expect(timedOut.timedOut).toEqual([silent]);
    const redrawn = await drawAttesters(user.ctx, { stackId: stack.stackId });
    if (redrawn.outcome !== "replaced") throw new Error(`expected a replacement, got ${redrawn.outcome}`);
    expect(redrawn.attesters).toHaveLength(1);
    const replacement = redrawn.attesters[0]!;
    expect([server.nodeId, talker, silent]).not.toContain(replacement);
    expect((await contracts.nodeRegistry.read.getNode([silent])).collateral).toBe(950n * 10n ** 18n);
    await commit(stack.stackId, replacement, sample.sample);
    await network.advance(301);
    const failed = await failVerification(user.ctx, { stackId: stack.stackId });
    expect(failed.reason).toBe(1);
    expect((await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral).toBe(0n);
  });

  it("refunds a stack the node never settled and slashes the timeout share", async () => {
    const { contracts } = network.deployment;
    const stack = await buy(plainTask);
    const server = byId(stack.nodeId);
    const before = (await contracts.nodeRegistry.read.getNode([server.nodeId])).collateral;
    await expect(timeoutSettlement(user.ctx, { stackId: stack.stackId })).rejects.toMatchObject({
      errorName: "DeadlineNotPassed",
    });
    await network.advance(86_400 + 601);
    const timedOut = await timeoutSettlement(user.ctx, { stackId: stack.stackId });
    expect(timedOut.refunded).toBe(PRICE);
    const after = await contracts.nodeRegistry.read.getNode([server.nodeId]);
    expect(after.collateral).toBe(before - before / 20n);
  });

  it("lets the owner prove an over-claim, and a node answer a challenge with its stack-tree proof", async () => {
    const { contracts } = network.deployment;
    const { stack: honestStack, server: honestServer, served: honestServed } = await plainSettlement(300n);
    const proofOf = honestServed.responses[1]!;
    const challenged = await challengeWith(honestStack.stackId, proofOf);
    expect(challenged.upheld).toBe(false);
    expect(challenged.bond).toBe(10n ** 18n);
    await answerChallenge(honestServer.signer, {
      challengeId: challenged.challengeId,
      proof: honestServed.tree.proof(1),
    });
    await expect(challengeWith(honestStack.stackId, proofOf)).rejects.toMatchObject({
      errorName: "LeafAlreadyProven",
    });

    const { stack: greedyStack, server: greedy, served } = await plainSettlement(900n);
    const last = served.responses[2]!;
    const upheld = await challengeWith(greedyStack.stackId, last);
    expect(upheld.upheld).toBe(true);
    expect((await contracts.nodeRegistry.read.getNode([greedy.nodeId])).collateral).toBe(0n);
    const forged = { ...last.fields, cumulativeUnits: 1n };
    await expect(
      challengeWith(honestStack.stackId, { fields: forged, signature: last.signature }),
    ).rejects.toMatchObject({ code: "contract_reverted" });
  });

  it("makes a node answer an index challenge with the owner's signature on the leaf's request", async () => {
    const { stack, server, served } = await plainSettlement(300n);
    const challenged = await challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 2n });
    expect(challenged.upheld).toBe(false);
    expect(challenged.bond).toBe(10n ** 18n);
    const request = served.requests[2]!;
    const answer = {
      challengeId: challenged.challengeId,
      leaf: served.leaves[2]!,
      deadline: request.deadline,
      maxUnits: request.maxUnits,
      ownerSignature: request.signature,
      proof: served.tree.proof(2),
      previous: served.leaves[1]!,
      previousProof: served.tree.proof(1),
    };
    // The owner's signature on another request does not answer for this leaf.
    await expect(
      answerIndexChallenge(server.signer, { ...answer, ownerSignature: served.requests[1]!.signature }),
    ).rejects.toMatchObject({ errorName: "InvalidRequestSignature" });
    await answerIndexChallenge(server.signer, answer);
    await expect(
      challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 2n }),
    ).rejects.toMatchObject({ errorName: "IndexAlreadyProven" });
    await expect(
      challengeLeafIndex(user.ctx, { stackId: stack.stackId, leafIndex: 3n }),
    ).rejects.toMatchObject({ errorName: "NoSuchLeaf" });
  });

  it("pays model owners after the epoch", async () => {
    const epoch = await network.deployment.contracts.nodeRegistry.read.currentEpoch();
    await network.advance(HOUR);
    const owners = await network.deployment.contracts.vault.read.epochTotals([epoch]);
    expect(owners[1]).toBeGreaterThanOrEqual(0n);
    await expect(claimOwnerFees(user.ctx, { epochs: [epoch] })).rejects.toMatchObject({
      errorName: "NothingToClaim",
    });
  });

  it("the explorer counts as fees paid what the vault credited as fees: agreeing attesters only, and failed settlements' too", async () => {
    // The settlements above: attesters who never opened or declared falsely went unpaid, a server that withheld its
    // reveal failed with its committed attesters paid.
    const vault = network.deployment.contracts.vault;
    let credited = 0n;
    for (let epoch = 0n; epoch <= (await vault.read.currentEpoch()); epoch++) {
      const [nodeFees, modelFees] = await vault.read.epochTotals([epoch]);
      credited += nodeFees + modelFees;
    }
    const feed = new ChainFeed(
      parseNetwork(
        JSON.stringify({
          rpcUrl: network.anvil.rpcUrl,
          chainId: network.anvil.chainId,
          contracts: network.nodeContracts,
          deploymentBlock: Number(network.deploymentBlock ?? 0n),
        }),
      ),
    );
    feed.start();
    try {
      const head = await network.publicClient.getBlockNumber();
      await expect.poll(() => feed.snapshot().block ?? -1n, { timeout: 20_000 }).toBeGreaterThanOrEqual(head);
      const { events, nodes } = feed.snapshot();
      expect(named(events, "SettlementFinalized").length).toBeGreaterThan(0);
      expect(named(events, "SettlementFailed").some((e) => (e.args.attestersPaid as bigint) > 0n)).toBe(true);
      expect(totalsOf(events, nodes).feesPaid).toBe(credited);
    } finally {
      feed.stop();
    }
  });
});
