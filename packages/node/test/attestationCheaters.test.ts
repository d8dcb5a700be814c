import { ballotFromText, finalizeSettlement, postSampledRequests } from "@atoma/chain";
import { hashCanonical } from "@atoma/core";
import type { InferenceEngine } from "@atoma/engine";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openExplorer } from "../../../testing/explorerPage.js";
import { INVALID_REQUEST_HASH } from "../src/attestation/invalidRequest.js";
import {
  type AttestNetwork,
  COLLATERAL,
  eventually,
  PRICE,
  startAttestNetwork,
  tinyEngine,
} from "./harness/attestNetwork.js";
import {
  compared,
  drawnCommittee,
  reveal,
  revealOnly,
  type ServedStack,
  serveAndSettle,
} from "./harness/servingNode.js";
import {
  colludingStrategy,
  lazyCopierStrategy,
  peekingStrategy,
  StrategyBoard,
  silentStrategy,
} from "./harness/strategies.js";

const Phase = { Reveal: 2, Accepted: 4, Failed: 6, Opening: 9 } as const;
const REQUESTS = 3;
/** The user's share of a node slashed for fraud, holding `collateral` (the dev parameters' 30 %). */
const fraudUserShare = (collateral: bigint) => (collateral * 3_000n) / 10_000n;
const FRAUD_USER_SHARE = fraudUserShare(COLLATERAL);
/** What a missed duty costs a node holding `collateral` (the dev parameters' timeoutSlashBps, 5 %). */
const timeoutShare = (collateral: bigint) => (collateral * 500n) / 10_000n;

/**
 * Issue 6 (and issue 10, items 2 and 15): dishonest nodes against the real attestation worker. Every attester samples all of a stack's requests
 * (sample size = requests, p = 1), so each cheat is certain to be looked at.
 */
describe("cheaters are caught", () => {
  const board = new StrategyBoard();
  let net: AttestNetwork;
  let otherModel: InferenceEngine;

  beforeAll(async () => {
    // Nodes register with exactly the minimum collateral, so every eligible node holds COLLATERAL and a node
    // charged anything (a missed vote or an abstention costs the timeout share) drops out until it tops up. By the
    // last test 16 nodes are out (8 barred cheaters, the colluding member, the silent member of the item-14 test,
    // 3 abstaining committee members charged, the peeking and silent attesters, each timed out, and the copying
    // one, barred for a commitment it could not open) and a verified stack is only sold with a server and three
    // verifiers (two attesters and a committee member) eligible (item 4): 20 nodes.
    net = await startAttestNetwork({
      nodes: 20,
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
  /** The stack of the first test, whose dispute the explorer's test looks at. */
  let outvoted: { stackId: bigint; server: bigint; disputeId: bigint } | undefined;

  const read = () => net.deployment.contracts;
  const phaseOf = async (stackId: bigint) =>
    (await read().settlementManager.read.getSettlement([stackId])).phase;
  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(async () => ((await phaseOf(stackId)) === phase ? true : undefined), `phase ${phase}`);
  const userBalance = () => read().vault.read.balanceOf([net.user.account.address]);
  // Collateral by node, to check a test's honest nodes lose nothing in it (earlier tests may have slashed them
  // a timeout share: such nodes still check others).
  const collateralsOf = async (ids: readonly bigint[]) =>
    new Map(
      await Promise.all(
        ids.map(async (id) => [id, (await read().nodeRegistry.read.getNode([id])).collateral] as const),
      ),
    );

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
    outvoted = { stackId: served.stackId, server: served.server.nodeId, disputeId: revealed.disputeId };
  }, 120_000);

  it("the explorer shows that dispute on the stack's timeline: sampled, committed, revealed, the committee's votes, the verdict, the slash and where it went", async () => {
    if (!outvoted) throw new Error("the test before did not run");
    const { stackId, server, disputeId } = outvoted;
    const network = {
      rpcUrl: net.anvil.rpcUrl,
      chainId: net.anvil.chainId,
      contracts: net.deployment.addresses,
    };
    const explorer = await openExplorer(network, `#/stack/${stackId}`);
    try {
      const { tab } = explorer;
      const entry = (name: string) => tab.locator(`[data-testid="timeline-${name}"]`);
      await expect.poll(() => entry("DisputeResolved").count(), { timeout: 20_000 }).toBe(1);
      for (const name of ["StackBought", "SettlementSubmitted", "AttestersSampled", "SettlementRevealed"])
        expect(await entry(name).count(), name).toBe(1);
      expect(await entry("AttestationCommitted").count()).toBe(2);
      expect(await entry("SettlementDisputed").textContent()).toContain(`dispute #${disputeId}`);
      const committee = await read().disputeManager.read.committeeOf([disputeId]);
      expect(await entry("VoteRevealed").count()).toBe(committee.filter((m) => m.revealed).length);
      expect(await entry("DisputeResolved").textContent()).toContain(`losers #${server}`);
      expect(await entry("NodeSlashed").first().textContent()).toContain(`node #${server} slashed`);
      expect(await entry("SlashDistributed").first().textContent()).toMatch(
        /to the user, .* to honest nodes/,
      );
      // The dispute lost, the settlement failed: its timeline ends on that branch, with the contract's reason.
      expect(await entry("SettlementFailed").textContent()).toMatch(
        /SettlementFailed failed: dispute lost, [\d.]+ TOMA refunded to the owner$/,
      );
      const stages = await tab.locator(".stages li.done").allTextContents();
      expect(stages).toContain("dispute");
      expect(stages.at(-1)).toBe("failed: dispute lost");
    } finally {
      await explorer.close();
    }
  }, 60_000);

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

  it("a request nobody can replay (not an inference body) a colluding owner and server put in the stack: attesters and committee vote the fixed invalid-request result, the server is slashed as fraud, the owner gets no timeout share, no honest node is slashed (item 14)", async () => {
    // The owner signs request 1 with a body no node of the task can run; the server signs a leaf with an answer
    // for it, hoping the attesters and the committee stall on it (a timeout share for the owner, an unpaid dispute).
    const served = await serveAndSettle(net, REQUESTS, {
      engine: net.engine,
      poison: (k) => k === 1,
      poisonAs: "not-inference",
    });
    await whenPhase(served.stackId, Phase.Reveal);
    const position = served.indices.indexOf(1n);
    expect(position).toBeGreaterThanOrEqual(0);
    const dutyResult = (nodeId: bigint, kind: "attest" | "committee") =>
      net
        .byId(nodeId)
        .node.context.db.selectFrom("attestation_tasks")
        .select("result")
        .where("kind", "=", kind)
        .where("stack_id", "=", served.stackId)
        .executeTakeFirstOrThrow();
    for (const id of served.attesters) {
      const { result } = await dutyResult(id, "attest");
      const sample = JSON.parse(result!) as { respHashes: string[]; units: string[] };
      expect(sample.respHashes[position]).toBe(INVALID_REQUEST_HASH);
      expect(sample.units[position]).toBe("0");
    }
    board.open = false;
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the poison request went unnoticed");
    expect(revealed.dissenting).toEqual(served.attesters);
    // One member goes silent: its timeout share must not reach the colluding owner.
    const committee = await drawnCommittee(net, revealed.disputeId);
    expect(committee).toHaveLength(3);
    const [silent, ...honest] = committee as [bigint, bigint, bigint];
    const silentCollateral = (await read().nodeRegistry.read.getNode([silent])).collateral;
    const keeping = await collateralsOf([...served.attesters, ...honest]);
    board.assign(silent, silentStrategy);
    board.open = true;
    const shown = async (count: number) =>
      eventually(async () => {
        const members = await read().disputeManager.read.committeeOf([revealed.disputeId]);
        return members.filter((m) => m.substantiated).length === count ? members : undefined;
      }, `${count} shown votes`);
    await eventually(async () => {
      const members = await read().disputeManager.read.committeeOf([revealed.disputeId]);
      return members.filter((m) => m.committed).length === honest.length ? true : undefined;
    }, "the honest members' commitments");
    await net.advance(301); // past the commit deadline: the reveal opens without the silent member
    await shown(honest.length);
    for (const id of honest) {
      const { result } = await dutyResult(id, "committee");
      const ballot = ballotFromText(result!);
      expect(ballot.respHashes[position]).toBe(INVALID_REQUEST_HASH);
      expect(ballot.units[position]).toBe(0n);
    }
    await net.advance(301); // past the reveal deadline
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.outcome).toBe(1); // Decided
    expect(dispute.winner).not.toBe(dispute.serverResult);
    // The server loses as for fraud; the owner gets its escrow back and the fraud share, and nothing more.
    await expectCaught(served, before);
    const treasury = await read().vault.read.treasury();
    const slashed = await read().nodeRegistry.getEvents.NodeSlashed({ nodeId: silent }, { fromBlock: 0n });
    expect(slashed.map((e) => ({ fraud: e.args.fraud, user: e.args.user }))).toEqual([
      { fraud: false, user: treasury },
    ]);
    expect((await read().nodeRegistry.read.getNode([silent])).collateral).toBe(
      silentCollateral - timeoutShare(silentCollateral),
    );
    expect(await collateralsOf([...keeping.keys()])).toEqual(keeping);
  }, 120_000);

  it("a committee member with too little time left before its commit deadline abstains in time instead of missing it", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: otherModel });
    await whenPhase(served.stackId, Phase.Reveal);
    board.open = false;
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the other model's outputs went unnoticed");
    const committee = await drawnCommittee(net, revealed.disputeId);
    const held = await collateralsOf(committee);
    // The members wake up 290 s into the 300 s commit window: no recomputation fits, so each abstains. The board
    // stays closed until they have: a worker pass that read the clock before the jump would otherwise vote on the
    // budget it computed then (a jump of 290 s in an instant is the test's, not the world's).
    await net.advance(290);
    await eventually(async () => {
      const members = await read().disputeManager.read.committeeOf([revealed.disputeId]);
      return members.every((m) => m.committed) ? true : undefined;
    }, "every member's commitment before the deadline");
    board.open = true;
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.outcome).toBe(3); // Unverifiable: nobody could replay in time, the server is not paid
    // Each abstention is charged as a missed vote (the timeout share), far less than a claim not shown.
    for (const id of committee)
      expect((await read().nodeRegistry.read.getNode([id])).collateral).toBe(
        held.get(id)! - held.get(id)! / 20n,
      );
  }, 120_000);

  it("a minority of colluding committee members cannot save a server that tampered with one output", async () => {
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine, tamper: (k) => k === 1 });
    await whenPhase(served.stackId, Phase.Reveal);
    board.open = false;
    const before = await userBalance();
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the tampered output went unnoticed");
    const [colluder, ...honest] = await drawnCommittee(net, revealed.disputeId);
    const keeping = await collateralsOf(honest);
    // The colluder may have paid a timeout share in an earlier test: the user's share is of what it holds now.
    const colluderCollateral = (await read().nodeRegistry.read.getNode([colluder!])).collateral;
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
    await expectCaught(served, before, PRICE + fraudUserShare(colluderCollateral));
    const dispute = await read().disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute.decided).toBe(true);
    expect(dispute.winner).not.toBe(dispute.serverResult);
    expect(await read().nodeRegistry.read.getNode([colluder!])).toMatchObject({
      collateral: 0n,
      reputation: 0,
    });
    expect(await collateralsOf(honest)).toEqual(keeping);
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

  it("a lazy attester that copies another's commitment cannot open it: it is slashed in full after the opening deadline, unpaid, and the stack settles on the honest opening (issue 10, L1)", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine });
    expect(served.attesters).toHaveLength(2);
    const [honest, copier] = served.attesters as [bigint, bigint];
    board.assign(copier, lazyCopierStrategy);
    board.open = true;
    await whenPhase(served.stackId, Phase.Reveal);
    const before = (await read().nodeRegistry.read.getNode([copier])).collateral;
    const server = await collateralsOf([served.server.nodeId]);
    const revealed = await revealOnly(served, served.indices);
    await eventually(async () => {
      const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
      return attesters.find((a) => a.nodeId === honest)?.opened ? true : undefined;
    }, "the honest opening");
    expect(await phaseOf(served.stackId)).toBe(Phase.Opening);
    await net.advance(
      Number(revealed.openDeadline - (await net.user.ctx.publicClient.getBlock()).timestamp) + 1,
    );
    // The honest attester's worker times the copier out once the deadline has passed.
    const after = await compared(served, revealed.blockNumber);
    expect(after).toMatchObject({ outcome: "accepted", agreeing: [honest], dissenting: [] });
    // A commitment it does not open costs all its collateral (staying closed must never pay), not a timeout share.
    expect(before).toBeGreaterThan(0n);
    expect((await read().nodeRegistry.read.getNode([copier])).collateral).toBe(0n);
    expect(await collateralsOf([served.server.nodeId])).toEqual(server);
    await net.advance(601);
    const { stacks } = await finalizeSettlement(net.user.ctx, { stackIds: [served.stackId] });
    expect(stacks[0]!.nodeAmount).toBeGreaterThan(0n);
    expect(stacks[0]!.attesterAmountEach).toBe(PRICE / 10n);
  }, 120_000);

  it("a lazy attester that peeks at another's commitment to learn whether it agreed with the server's claim learns nothing: it never commits and is replaced (issue 10, L1)", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine });
    const [talker, peeker] = served.attesters as [bigint, bigint];
    const claim = {
      respHashes: served.indices.map((k) => served.respHashes[Number(k)]!),
      units: served.indices.map((k) => served.leaves[Number(k)]!.units),
    };
    board.assign(peeker, peekingStrategy(new Map([[served.stackId, claim]])));
    board.open = true;
    await eventually(async () => {
      const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
      return attesters.find((a) => a.nodeId === talker)?.committed ? true : undefined;
    }, "the talker's commitment");
    // The talker agreed with the claim, yet the peeker's test against it fails: it has nothing to copy safely.
    await net.advance(301);
    await whenPhase(served.stackId, Phase.Reveal);
    const attesters = await read().settlementManager.read.attestersOf([served.stackId]);
    const peeked = attesters.find((a) => a.nodeId === peeker)!;
    expect(peeked).toMatchObject({ committed: false, removed: true });
    const replacement = attesters.find((a) => ![talker, peeker].includes(a.nodeId));
    expect(replacement?.committed).toBe(true);
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
  }, 120_000);

  it("a silent attester is slashed the timeout share and replaced; the replacement attests and the stack settles", async () => {
    board.open = false;
    const served = await serveAndSettle(net, REQUESTS, { engine: net.engine });
    expect(served.attesters).toHaveLength(2);
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
      expect((JSON.parse(duty.result!) as { respHashes: string[] }).respHashes[position]).toBe(invalid);
    }
    const before = await userBalance();
    const keeping = await collateralsOf(attesters.map((a) => a.nodeId));
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("the poison request went unnoticed");
    await whenPhase(served.stackId, Phase.Failed);
    await expectCaught(served, before);
    expect(await collateralsOf([...keeping.keys()])).toEqual(keeping);
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
