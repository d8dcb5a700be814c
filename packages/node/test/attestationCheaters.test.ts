import { challengeSettlement, finalizeSettlement, postSampledRequests } from "@atoma/chain";
import { hashCanonical } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type AttestNetwork,
  COLLATERAL,
  eventually,
  PRICE,
  startAttestNetwork,
  tinyEngine,
} from "./harness/attestNetwork.js";
import { drawnCommittee, reveal, type ServedStack, serveAndSettle } from "./harness/servingNode.js";
import {
  colludingStrategy,
  dissentingStrategy,
  lazyCopierStrategy,
  StrategyBoard,
  silentStrategy,
} from "./harness/strategies.js";

const Phase = { Reveal: 2, Accepted: 4, Failed: 6 } as const;
const REQUESTS = 3;
const FRAUD_USER_SHARE = (COLLATERAL * 3_000n) / 10_000n;

/**
 * Issue 6 (and issue 10, items 2 and 15): dishonest nodes against the real attestation worker. Every attester samples all of a stack's requests
 * (sample size = requests, p = 1), so each cheat is certain to be looked at.
 */
describe("cheaters are caught", () => {
  const board = new StrategyBoard();
  let net: AttestNetwork;
  let otherModel: InferenceEngine;

  beforeAll(async () => {
    // Each cheat caught bars a node; a verified stack needs its attesters and a committee among the rest.
    net = await startAttestNetwork({
      nodes: 13,
      sampleSize: REQUESTS,
      strategyOf: (nodeId) => board.strategyFor(nodeId),
      // Every cheat caught here bars a node for good, so later disputes find fewer than three eligible; the
      // committee minimum is played against its attacker in contracts/test/Disputes.t.sol.
      parameters: { dispute: { minCommittee: 1 } },
    });
    otherModel = await tinyEngine(2);
  }, 300_000);
  afterAll(async () => {
    await otherModel?.stop();
    await net?.stop();
  }, 60_000);
  beforeEach(() => board.reset());

  const read = () => net.deployment.contracts;
  const phaseOf = async (stackId: bigint) =>
    (await read().settlementManager.read.getSettlement([stackId])).phase;
  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(async () => ((await phaseOf(stackId)) === phase ? true : undefined), `phase ${phase}`);
  const userBalance = () => read().vault.read.balanceOf([net.user.account.address]);

  /** The server is slashed in full, barred, its reputation zero, and the user refunded plus its fraud share. */
  async function expectCaught(served: ServedStack, balanceBefore: bigint, refund = PRICE) {
    const cheater = await read().nodeRegistry.read.getNode([served.server.nodeId]);
    expect(cheater).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    expect((await userBalance()) - balanceBefore).toBe(refund + FRAUD_USER_SHARE);
  }

  it("a server running another model is outvoted by the committee and slashed", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: otherModel });
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the other model's outputs went unnoticed");
    expect(revealed.dissenting).toEqual(served.attesters);
    await whenPhase(served.stackId, Phase.Failed);
    await expectCaught(served, before);
  }, 120_000);

  it("a caught server that withholds the disputed requests loses; the dissenting attesters are rewarded, the committee is not slashed", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: otherModel });
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await userBalance();
    const revealed = await reveal(served, served.indices, { withholdEvidence: true });
    if (revealed.outcome !== "disputed") throw new Error("the other model's outputs went unnoticed");
    // Once a block has passed the one that opened the dispute, a dissenting attester's worker draws the committee;
    // with no evidence there is nothing for it to vote on.
    await net.advance(1);
    const committee = await drawnCommittee(net, revealed.disputeId);
    const epoch = await read().nodeRegistry.read.currentEpoch();
    const claimable = async (id: bigint) => (await read().vault.read.nodeLedger([id, epoch]))[0];
    const feesBefore = await Promise.all(served.attesters.map(claimable));
    await net.advance(301);
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.outcome).toBe(4); // Withheld
    await expectCaught(served, before);
    const share = (COLLATERAL * 3_000n) / 10_000n / BigInt(served.attesters.length);
    for (const [i, id] of served.attesters.entries())
      expect((await claimable(id)) - feesBefore[i]!).toBeGreaterThanOrEqual(share);
    for (const id of committee) {
      expect(await read().nodeRegistry.read.getNode([id])).toMatchObject({
        collateral: COLLATERAL,
        obligations: 0,
      });
    }
  }, 120_000);

  it("a request nobody can replay: the committee abstains unpunished and the server is not paid", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, poison: (k) => k === 1 });
    for (const id of served.attesters) board.assign(id, dissentingStrategy);
    board.open = true;
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("expected a dispute");
    const committee = await drawnCommittee(net, revealed.disputeId);
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.outcome).toBe(3); // Unverifiable
    for (const id of [served.server.nodeId, ...served.attesters, ...committee])
      expect((await read().nodeRegistry.read.getNode([id])).collateral).toBe(COLLATERAL);
    expect((await userBalance()) - before).toBe(PRICE);
    for (const id of committee) {
      const counted = await eventually(async () => {
        const values = (await net.byId(id).metrics.disputes.get()).values;
        return values.some((v) => v.labels.outcome === "abstained") ? values : undefined;
      }, `member ${id} to record its abstention`);
      expect(counted).toContainEqual(
        expect.objectContaining({ labels: { role: "committee", outcome: "abstained" }, value: 1 }),
      );
    }
  }, 120_000);

  it("a committee member with too little time left before its commit deadline abstains in time instead of missing it", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: otherModel });
    await whenPhase(served.stackId, Phase.Reveal);
    board.open = false;
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the other model's outputs went unnoticed");
    const committee = await drawnCommittee(net, revealed.disputeId);
    // The members wake up 290 s into the 300 s commit window: no recomputation fits, so each abstains.
    await net.advance(290);
    board.open = true;
    await eventually(async () => {
      const members = await read().disputeManager.read.committeeOf([revealed.disputeId]);
      return members.every((m) => m.committed) ? true : undefined;
    }, "every member's commitment before the deadline");
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.outcome).toBe(3); // Unverifiable: nobody could replay in time, the server is not paid
    for (const id of committee)
      expect((await read().nodeRegistry.read.getNode([id])).collateral).toBe(COLLATERAL);
  }, 120_000);

  it("a minority of colluding committee members cannot save a server that tampered with one output", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, tamper: (k) => k === 1 });
    await whenPhase(served.stackId, Phase.Reveal);
    board.open = false;
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the tampered output went unnoticed");
    const [colluder, ...honest] = await drawnCommittee(net, revealed.disputeId);
    board.assign(colluder!, colludingStrategy);
    board.open = true;
    // The colluder voted the server's public claim without computing: it has no outputs to show, and the dispute
    // ends at its reveal deadline with the two shown votes.
    await eventually(async () => {
      const members = await read().disputeManager.read.committeeOf([revealed.disputeId]);
      const shown = members.filter((m) => m.substantiated).length;
      return shown === 2 && members.every((m) => m.revealed) ? true : undefined;
    }, "two shown votes and the colluder's bare claim");
    await net.advance(601);
    await whenPhase(served.stackId, Phase.Failed);
    // The colluder voted against the majority: it is slashed too, and the user gets a share of both.
    await expectCaught(served, before, PRICE + FRAUD_USER_SHARE);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.decided).toBe(true);
    expect(dispute.winner).not.toBe(dispute.serverResult);
    expect(await read().nodeRegistry.read.getNode([colluder!])).toMatchObject({
      collateral: 0n,
      reputation: 0,
    });
    for (const id of honest)
      expect((await read().nodeRegistry.read.getNode([id])).collateral).toBe(COLLATERAL);
  }, 120_000);

  it("a server claiming more units than its leaves add up to is proven a cheater from its own root", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, overClaim: 50n });
    const before = await userBalance();
    // An attester rebuilds the leaves from the transcript: the last running total is not the units settled.
    await whenPhase(served.stackId, Phase.Failed);
    await expect(reveal(served, served.indices)).rejects.toMatchObject({ errorName: "WrongPhase" });
    // Nobody had committed: the whole escrow, surcharge included, goes back.
    await expectCaught(served, before, PRICE + PRICE / 10n);
  }, 120_000);

  it("a server whose leaves carry inflated units is disputed by attesters that count the units themselves, and slashed", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, inflateUnits: 1_000n });
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the inflated units went unnoticed");
    expect(revealed.dissenting).toEqual(served.attesters);
    await whenPhase(served.stackId, Phase.Failed);
    await expectCaught(served, before);
  }, 120_000);

  it("a server that bills a signed request twice is proven a cheater from its own root by an attester", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, duplicate: true });
    const before = await userBalance();
    await whenPhase(served.stackId, Phase.Failed);
    const proven = await read().receiptFraud.getEvents.FraudProven(
      { stackId: served.stackId },
      { fromBlock: 0n },
    );
    expect(proven).toHaveLength(1);
    expect(served.attesters).toContain(
      await read().nodeRegistry.read.nodeIdOfSigner([proven[0]!.args.prover!]),
    );
    // Nobody had committed: the whole escrow, surcharge included, goes back.
    await expectCaught(served, before, PRICE + PRICE / 10n);
  }, 120_000);

  it("a lazy attester that copies another's commitment is outed by the reveal and loses its collateral", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine });
    const [honest, copier] = served.attesters as [bigint, bigint];
    board.assign(copier, lazyCopierStrategy);
    board.open = true;
    await whenPhase(served.stackId, Phase.Reveal);
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the copy went unnoticed");
    expect(revealed.agreeing).toEqual([honest]);
    expect(revealed.dissenting).toEqual([copier]);
    await whenPhase(served.stackId, Phase.Accepted);
    expect(await read().nodeRegistry.read.getNode([copier])).toMatchObject({ collateral: 0n, reputation: 0 });
    expect((await read().nodeRegistry.read.getNode([served.server.nodeId])).collateral).toBe(COLLATERAL);
    await net.advance(601);
    const { stacks } = await finalizeSettlement(net.user.ctx, { stackIds: [served.stackId] });
    expect(stacks[0]!.nodeAmount).toBeGreaterThan(0n);
  }, 120_000);

  it("a silent attester is slashed the timeout share and replaced; the replacement attests and the stack settles", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine });
    const [talker, silent] = served.attesters as [bigint, bigint];
    board.assign(silent, silentStrategy);
    board.open = true;
    await eventually(async () => {
      const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
      return attesters.find((a) => a.nodeId === talker)?.committed ? true : undefined;
    }, "the talker's commitment");
    const collateralBefore = (await read().nodeRegistry.read.getNode([silent])).collateral;
    await net.advance(301);
    await whenPhase(served.stackId, Phase.Reveal);
    const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
    expect(attesters.find((a) => a.nodeId === silent)?.removed).toBe(true);
    const replacement = attesters.find((a) => ![talker, silent].includes(a.nodeId));
    expect(replacement?.committed).toBe(true);
    expect((await read().nodeRegistry.read.getNode([silent])).collateral).toBe(
      collateralBefore - collateralBefore / 20n,
    );
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
    expect(revealed.agreeing).toEqual([talker, replacement!.nodeId]);
  }, 120_000);

  it("a poison request (another model) a colluding owner and server put in the stack: attesters commit the invalid-request result, none is slashed, the server loses and the pair with it (item 14)", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, poison: (k) => k === 0 });
    await whenPhase(served.stackId, Phase.Reveal);
    const invalid = hashCanonical({ object: "atoma.invalid_request" });
    const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
    const position = served.indices.indexOf(0n);
    for (const attester of attesters) {
      const duty = await net
        .byId(attester.nodeId)
        .node.context.db.selectFrom("attestation_tasks")
        .select("result")
        .where("stack_id", "=", served.stackId)
        .executeTakeFirstOrThrow();
      expect((JSON.parse(duty.result!) as string[])[position]).toBe(invalid);
    }
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the poison request went unnoticed");
    await whenPhase(served.stackId, Phase.Failed);
    await expectCaught(served, before);
    for (const attester of attesters)
      expect((await read().nodeRegistry.read.getNode([attester.nodeId])).collateral).toBe(COLLATERAL);
    // The owner got its escrow back and 30 % of a collateral the server lost in full: the pair is poorer.
    expect(FRAUD_USER_SHARE).toBeLessThan(COLLATERAL);
  }, 120_000);

  it("a server that pads its stack with a request the owner never signed fails: its transcript is refused and it cannot post the request", async () => {
    const served = await serveAndSettle(net, REQUESTS, {
      engine: net.engine,
      forge: (k) => k === REQUESTS - 1,
    });
    await eventually(
      async () =>
        (await read().settlementManager.read.getSettlement([served.stackId])).dataRequested
          ? true
          : undefined,
      "TranscriptUnavailable",
    );
    await expect(
      postSampledRequests(served.server.signer, {
        stackId: served.stackId,
        requests: served.indices.map((k) => served.requests[Number(k)]!),
      }),
    ).rejects.toMatchObject({ errorName: "InvalidRequestSignature" });
    const before = await userBalance();
    await net.advance(301);
    await whenPhase(served.stackId, Phase.Failed);
    await expectCaught(served, before);
  }, 120_000);
});
