import {
  attestationCommitment,
  attestationResult,
  finalizeSettlement,
  postSampledRequests,
} from "@atoma/chain";
import type { Hash } from "@atoma/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attestationSalt } from "../src/attestation/attestationSalt.js";
import { honestStrategy } from "../src/attestation/honestStrategy.js";
import {
  type AttestNetwork,
  COLLATERAL,
  eventually,
  PRICE,
  startAttestNetwork,
} from "./harness/attestNetwork.js";
import { compared, drawnCommittee, reveal, revealOnly, serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard, silentStrategy } from "./harness/strategies.js";

const Phase = { Commit: 1, Reveal: 2, Disputed: 3, Accepted: 4, Failed: 6 } as const;

/** The attestation worker on real nodes: honest settlements pass, a tampered one is caught and slashed. */
describe("attestation worker against anvil", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({ nodes: 6, sampleSize: 2, strategyOf: (id) => board.strategyFor(id) });
  }, 240_000);
  afterAll(() => net?.stop(), 60_000);

  const phaseOf = async (stackId: bigint) =>
    (await net.deployment.contracts.settlementManager.read.getSettlement([stackId])).phase;
  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(async () => ((await phaseOf(stackId)) === phase ? true : undefined), `phase ${phase}`);
  const dutyOf = async (nodeId: bigint, stackId: bigint, kind: "attest" | "committee") =>
    net
      .byId(nodeId)
      .node.context.db.selectFrom("attestation_tasks")
      .selectAll()
      .where("stack_id", "=", stackId)
      .where("kind", "=", kind)
      .executeTakeFirst();

  it("honest path: sampled attesters fetch, check and recompute the transcript and commit; the reveal settles and pays them", async () => {
    const served = await serveAndSettle(net, 4, { engine: net.engine });
    await whenPhase(served.stackId, Phase.Reveal);
    for (const id of served.attesters) {
      // The commitment is on-chain before the attester, having seen its receipt, records it.
      const duty = await eventually(async () => {
        const row = await dutyOf(id, served.stackId, "attest");
        return row?.state === "committed" ? row : undefined;
      }, `attester ${id} to record its commitment`);
      expect(duty.state).toBe("committed");
      expect(duty?.transcript_blob_id).toBe(served.transcriptId);
    }
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
    expect(revealed.agreeing).toEqual(served.attesters);
    for (const id of served.attesters)
      await eventually(
        async () => ((await dutyOf(id, served.stackId, "attest"))?.state === "done" ? true : undefined),
        "attester duty done",
      );
    const counted = await net.byId(served.attesters[0]!).metrics.attestations.get();
    expect(counted.values).toContainEqual(
      expect.objectContaining({ labels: { role: "attester", outcome: "agreed" }, value: 1 }),
    );
    await net.advance(601);
    const { stacks } = await finalizeSettlement(net.user.ctx, { stackIds: [served.stackId] });
    expect(stacks[0]!.attesterAmountEach).toBe(PRICE / 20n);
  }, 120_000);

  it("a node restarted with a duty pending resumes it from its row and the chain, once", async () => {
    board.open = false;
    const served = await serveAndSettle(net, 3, { engine: net.engine });
    const [resumed, other] = served.attesters as [bigint, bigint];
    await eventually(
      async () => (await dutyOf(resumed, served.stackId, "attest")) ?? undefined,
      "the duty row",
    );
    await net.restart(resumed, async () => {
      board.open = true;
      await eventually(async () => {
        const attesters = await net.deployment.contracts.settlementManager.read.attestersOf([served.stackId]);
        return attesters.find((a) => a.nodeId === other)?.committed ? true : undefined;
      }, "the other attester's commitment");
    });
    await whenPhase(served.stackId, Phase.Reveal);
    const rows = await eventually(async () => {
      const found = await net
        .byId(resumed)
        .node.context.db.selectFrom("attestation_tasks")
        .selectAll()
        .where("stack_id", "=", served.stackId)
        .execute();
      return found[0]?.state === "committed" ? found : undefined;
    }, "the resumed attester to record its commitment");
    expect(rows).toHaveLength(1);
    expect(rows[0]!.state).toBe("committed");
    expect((await reveal(served, served.indices)).outcome).toBe("accepted");
  }, 120_000);

  it("a node restarted between its commitment and the server's reveal opens it with the same salt (derived from its key, nothing secret stored)", async () => {
    const served = await serveAndSettle(net, 3, { engine: net.engine });
    await whenPhase(served.stackId, Phase.Reveal);
    const [restarted] = served.attesters as [bigint, bigint];
    let revealedAt = 0n;
    await net.restart(restarted, async () => {
      revealedAt = (await revealOnly(served, served.indices)).blockNumber;
    });
    const after = await compared(served, revealedAt);
    expect(after.outcome).toBe("accepted");
    expect(after.agreeing).toEqual(served.attesters);
  }, 120_000);

  it("mismatch path: tampered leaves are disputed, the committee recomputes and votes (one member restarting between commit and reveal), the server is slashed and the user refunded", async () => {
    const { contracts } = net.deployment;
    const served = await serveAndSettle(net, 3, { engine: net.engine, tamper: () => true });
    await whenPhase(served.stackId, Phase.Reveal);
    const before = await contracts.vault.read.balanceOf([net.user.account.address]);
    board.open = false;
    const revealed = await reveal(served, served.indices);
    if (revealed.outcome !== "disputed") throw new Error("expected a dispute");
    expect(revealed.dissenting).toEqual(served.attesters);
    // The server posted the disputed requests; a dissenting attester's worker draws the committee.
    const committee = await drawnCommittee(net, revealed.disputeId);
    // One member holds back, so the others wait between commit and reveal; one of them restarts there and must
    // reveal and show the vote and salt it committed with.
    const [restarted, , late] = committee as [bigint, bigint, bigint];
    board.assign(late, silentStrategy);
    board.open = true;
    await eventually(async () => {
      const committee = await contracts.disputeManager.read.committeeOf([revealed.disputeId]);
      return committee.filter((m) => m.committed).length === 2 ? true : undefined;
    }, "two sealed votes");
    await net.restart(restarted);
    board.assign(late, honestStrategy);
    await whenPhase(served.stackId, Phase.Failed);
    const dispute = await contracts.disputeManager.read.getDispute([revealed.disputeId]);
    expect(dispute).toMatchObject({ status: 2, decided: true });
    expect(dispute.winner).not.toBe(dispute.serverResult);
    const cheater = await contracts.nodeRegistry.read.getNode([served.server.nodeId]);
    expect(cheater).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    const refund = (await contracts.vault.read.balanceOf([net.user.account.address])) - before;
    expect(refund).toBe(PRICE + (COLLATERAL * 3_000n) / 10_000n);
    // The honest share (30 %) goes to the dissenting attesters and the committee that outvoted the server.
    const epoch = await contracts.nodeRegistry.read.currentEpoch();
    const honest = [...served.attesters, ...committee];
    const each = (COLLATERAL * 3_000n) / 10_000n / BigInt(honest.length);
    for (const id of honest) {
      const [claimable] = await contracts.vault.read.nodeLedger([id, epoch]);
      expect(claimable).toBeGreaterThanOrEqual(each);
    }
    for (const id of committee) {
      await eventually(
        async () => ((await dutyOf(id, served.stackId, "committee"))?.state === "done" ? true : undefined),
        "committee duty done",
      );
      const counted = await net.byId(id).metrics.disputes.get();
      expect(counted.values).toContainEqual(
        expect.objectContaining({ labels: { role: "committee", outcome: "won" }, value: 1 }),
      );
    }
  }, 120_000);

  it("an unfetchable transcript is declared on-chain; the attesters then recompute the requests the server posted", async () => {
    const { contracts } = net.deployment;
    const served = await serveAndSettle(net, 3, { engine: net.engine, withholdTranscript: true });
    await eventually(
      async () =>
        (await contracts.settlementManager.read.getSettlement([served.stackId])).dataRequested
          ? true
          : undefined,
      "TranscriptUnavailable",
    );
    // Declared: the attesters wait for the data on-chain and ask the server no more (a stalling server would hold a
    // recompute slot with each ask, sweep after sweep, until the data deadline).
    const asked = () => served.server.front.blobRequests.get(served.transcriptId.toLowerCase()) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const afterDeclared = asked();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(asked()).toBe(afterDeclared);
    await postSampledRequests(served.server.signer, {
      stackId: served.stackId,
      requests: served.indices.map((k) => served.requests[Number(k)]!),
    });
    await whenPhase(served.stackId, Phase.Reveal);
    const revealed = await reveal(served, served.indices);
    expect(revealed.outcome).toBe("accepted");
    expect(revealed.agreeing).toEqual(served.attesters);
  }, 120_000);

  it("a server that neither serves its transcript nor posts the requests is failed by an attester after the data deadline", async () => {
    const { contracts } = net.deployment;
    const served = await serveAndSettle(net, 3, { engine: net.engine, withholdTranscript: true });
    await eventually(
      async () =>
        (await contracts.settlementManager.read.getSettlement([served.stackId])).dataRequested
          ? true
          : undefined,
      "TranscriptUnavailable",
    );
    const before = await contracts.vault.read.balanceOf([net.user.account.address]);
    await net.advance(301);
    await whenPhase(served.stackId, Phase.Failed);
    const withholder = await contracts.nodeRegistry.read.getNode([served.server.nodeId]);
    expect(withholder).toMatchObject({ collateral: 0n, reputation: 0, status: 3 });
    const refund = (await contracts.vault.read.balanceOf([net.user.account.address])) - before;
    expect(refund).toBe(PRICE + (COLLATERAL * 3_000n) / 10_000n);
    for (const id of served.attesters)
      await eventually(
        async () => ((await dutyOf(id, served.stackId, "attest"))?.state === "done" ? true : undefined),
        "attester duty done",
      );
  }, 120_000);

  it("commitments differ from the server's leaves exactly when the sample holds the tampered one (1 of 4 tampered, 2 sampled)", async () => {
    const { settlementManager } = net.deployment.contracts;
    let detected = 0;
    const runs = 12;
    for (let run = 0; run < runs; run++) {
      const tampered = run % 4;
      const served = await serveAndSettle(net, 4, { engine: net.engine, tamper: (k) => k === tampered });
      await whenPhase(served.stackId, Phase.Reveal);
      const claimed = {
        respHashes: served.indices.map((k) => served.respHashes[Number(k)]!),
        units: served.indices.map((k) => served.leaves[Number(k)]!.units),
      };
      const claim = attestationResult(claimed);
      const attesters = await settlementManager.read.attestersOf([served.stackId]);
      const dissent: bigint[] = [];
      for (const a of attesters) {
        // What the attester recomputed is on its row; its commitment binds it with the salt from its key.
        const row = await eventually(async () => {
          const found = await dutyOf(a.nodeId, served.stackId, "attest");
          return found?.result ? found : undefined;
        }, "the attester's row");
        const kept = JSON.parse(row.result!) as { respHashes: Hash[]; units: string[] };
        const result = attestationResult({ respHashes: kept.respHashes, units: kept.units.map(BigInt) });
        const salt = await attestationSalt(net.byId(a.nodeId).signerAccount, {
          chainId: net.anvil.chainId,
          settlementManager: settlementManager.address,
          stackId: served.stackId,
          nodeId: a.nodeId,
        });
        expect(a.commitment).toBe(attestationCommitment(a.nodeId, result, salt));
        if (result !== claim) dissent.push(a.nodeId);
      }
      const sampledTampered = served.indices.includes(BigInt(tampered));
      expect(dissent).toHaveLength(sampledTampered ? attesters.length : 0);
      if (sampledTampered) detected++;
    }
    // The figure for the report: expected 1 - C(3,2)/C(4,2) = 0.5 per settlement.
    expect(detected).toBeLessThanOrEqual(runs);
  }, 300_000);
});
