import {
  attesterCandidatesOf,
  drawAttesters,
  getAttesterSelection,
  getCommitteeSelection,
  readDisputeCandidates,
} from "@atoma/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { drawnCommittee, reveal, serveAndSettle } from "./harness/servingNode.js";
import { recomputeRecorder } from "./harness/strategies.js";
import { selectedAmong } from "./harness/vrfSelection.js";

const Phase = { Reveal: 2, Failed: 6 } as const;
/** The shortest window the contract takes (`MIN_SELECTION_WINDOW`). */
const WINDOW = 60;
/** Attester windows tried for one dispute: each falls short of two selected with probability at most 0.3605. */
const ATTESTER_ATTEMPTS = 21;
/** Committee seats a window takes (`2 · committeeSize + 1`). */
const COMMITTEE_CAP = 3;

/**
 * The review's M2 for settlement dispute committees (issue 16), with real nodes on anvil and the tiny model: a server
 * that probes the candidates' engines while a committee's selection window is open (they are busy, or they read the
 * disputed requests) must not learn who sits. A committee of one over the 3 to 5 candidates a dispute leaves (the
 * server and its 2 to 4 attesters are no candidates): q = 1/n, so some candidates are not selected.
 */
describe("private dispute committee selection: every candidate recomputes before it evaluates its VRF", () => {
  let net: AttestNetwork;
  const recorder = recomputeRecorder();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 8,
      sampleSize: 2,
      attesters: 2,
      parameters: { dispute: { committeeSize: 1 } },
      privateSelection: { window: WINDOW, cap: 4 },
      strategyOf: () => recorder.strategy,
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const whenPhase = (stackId: bigint, phase: number) =>
    eventually(
      async () =>
        (await net.deployment.contracts.settlementManager.read.getSettlement([stackId])).phase === phase
          ? true
          : undefined,
      `phase ${phase}`,
    );

  /** A cheating server's stack, attested by two or more self-selected attesters (a short window is passed over). */
  const attestedCheat = async () => {
    for (let attempt = 0; attempt < ATTESTER_ATTEMPTS; attempt++) {
      const served = await serveAndSettle(net, 3, { engine: net.engine, tamper: () => true });
      const candidates = await attesterCandidatesOf(net.user.ctx, served.stackId);
      const selection = await getAttesterSelection(net.user.ctx, served.stackId);
      const selected = await selectedAmong(net, selection, candidates);
      if (selected.length < 2) {
        await net.advance(WINDOW + 1);
        await drawAttesters(net.user.ctx, { stackId: served.stackId }).catch(() => undefined);
        continue;
      }
      await eventually(async () => {
        const s = await getAttesterSelection(net.user.ctx, served.stackId);
        return s.nodeIds.length === Math.min(selected.length, 4) ? true : undefined;
      }, "the selected attesters to commit");
      await net.advance(WINDOW + 1);
      await drawAttesters(net.user.ctx, { stackId: served.stackId }).catch(() => undefined);
      await whenPhase(served.stackId, Phase.Reveal);
      const indices = await net.deployment.contracts.settlementManager.read.sampledIndices([served.stackId]);
      return { served, indices: [...indices] };
    }
    throw new Error(`${ATTESTER_ATTEMPTS} attester windows in a row with fewer than two selected`);
  };

  it("a candidate that is not selected also recomputes the disputed requests (its engine busy alike) before it forgets the duty; the selected sit with the ballot kept", async () => {
    const ctx = net.user.ctx;
    // A dispute whose window selects every candidate shows nothing: passed over for another one. That happens with
    // probability (1/n)^n <= 1/27 per dispute, so four in a row with at most 1.9e-6.
    for (let attempt = 0; attempt < 4; attempt++) {
      const { served, indices } = await attestedCheat();
      const revealed = await reveal(served, indices);
      if (revealed.outcome !== "disputed") throw new Error(`expected a dispute, got ${revealed.outcome}`);
      const { disputeId } = revealed;
      const selection = await eventually(async () => {
        const s = await getCommitteeSelection(ctx, { disputeId });
        return s.endsAt > 0n ? s : undefined;
      }, "the committee's selection window");
      const candidates = await readDisputeCandidates(ctx, disputeId);
      const selected = await selectedAmong(net, selection, candidates);
      const notSelected = candidates.filter((id) => !selected.includes(id));
      const committeeRow = (id: bigint) =>
        net
          .byId(id)
          .node.context.db.selectFrom("attestation_tasks")
          .select(["state", "attempts", "last_error", "result"])
          .where("kind", "=", "committee")
          .where("round", "=", disputeId)
          .executeTakeFirst();
      /** What the window and each candidate's committee row say, for a timeout's message. */
      const explain = async () => {
        const seats = (await getCommitteeSelection(ctx, { disputeId })).nodeIds;
        const lines = [
          `q ${selection.numerator}/${selection.denominator}, candidates ${candidates.join(",")}, selected ${selected.join(",")}, seated ${seats.join(",")}, recomputed ${recorder.recomputed(disputeId).join(",")}`,
        ];
        for (const id of candidates) {
          const row = await committeeRow(id);
          lines.push(
            `node ${id}: ${row ? `${row.state} attempts ${row.attempts} ballot ${row.result ? "yes" : "no"} ${row.last_error ?? ""}` : "no duty"}`,
          );
        }
        return lines.join("\n");
      };
      const endWindow = async () =>
        net.advance(Number(selection.endsAt - (await ctx.publicClient.getBlock()).timestamp) + 1);
      if (notSelected.length === 0) {
        await endWindow();
        continue;
      }
      // Within the window, every candidate's engine ran the disputed requests: the selected and the others alike.
      await eventually(
        async () =>
          candidates.every((id) => recorder.recomputed(disputeId).includes(id)) ? true : undefined,
        "every candidate to recompute",
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}\n${await explain()}`);
      });
      expect((await ctx.publicClient.getBlock()).timestamp).toBeLessThanOrEqual(selection.endsAt);
      // Those not selected send nothing and forget the duty; the selected sit with their sealed vote, its ballot kept.
      await eventually(async () => {
        for (const id of notSelected) if (await committeeRow(id)) return undefined;
        return true;
      }, "the candidates not selected to forget their duty");
      const seated = await eventually(async () => {
        const s = await getCommitteeSelection(ctx, { disputeId });
        return s.nodeIds.length === Math.min(selected.length, COMMITTEE_CAP) ? s : undefined;
      }, "the selected to take their seats");
      for (const id of seated.nodeIds) {
        expect(selected).toContain(id);
        expect((await committeeRow(id))?.result).toBeTruthy();
      }
      // The dispute still ends as it should: the honest committee decides and the cheater fails.
      await endWindow();
      await drawnCommittee(net, disputeId);
      await whenPhase(served.stackId, Phase.Failed);
      return;
    }
    throw new Error("four disputes in a row selected every candidate");
  }, 540_000);
});
