import { attesterCandidatesOf, drawAttesters, getAttesterSelection, StackCancelledError } from "@atoma/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { reveal, serveAndSettle } from "./harness/servingNode.js";
import { selectedAmong } from "./harness/vrfSelection.js";

/** The shortest selection window the contract takes. */
const WINDOW = 60;
const REVEAL_PHASE = 2;
/** Windows tried for one with two selected (each falls short with probability at most 0.3605: 21 all do < 1e-9). */
const ATTEMPTS = 21;

/**
 * A griefing server settles stack after stack and abandons each once its window closes: every candidate keeps a
 * quick pending step (a public top-up to wait for, a reveal that never comes). A node's worker used to start every
 * pending duty before any committed one, so with more of those than its slots the selected attesters of a later,
 * honest settlement never got a slot to open their commitments, and were slashed for it (CI saw openings time out).
 * Its own network: the abandoned servers are failed for not revealing, which no other test should inherit.
 */
describe("private selection under abandoned windows", () => {
  let net: AttestNetwork;

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 8,
      sampleSize: 2,
      attesters: 2,
      privateSelection: { window: WINDOW, cap: 4 },
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const selectedOf = async (stackId: bigint, candidates: readonly bigint[]) =>
    selectedAmong(net, await getAttesterSelection(net.user.ctx, stackId), candidates);

  it("a server that abandons window after window cannot starve the selected attesters' openings of a later settlement", async () => {
    for (let k = 0; k < 5; k++) {
      const abandoned = await serveAndSettle(net, 3, { engine: net.engine });
      await net.advance(WINDOW + 1);
      await drawAttesters(net.user.ctx, { stackId: abandoned.stackId }).catch(() => undefined);
    }
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let served: Awaited<ReturnType<typeof serveAndSettle>>;
      try {
        served = await serveAndSettle(net, 3, { engine: net.engine });
      } catch (error) {
        // The purchase drew a server the abandoned settlements had failed: the stack is refunded; buy another.
        if (error instanceof StackCancelledError) continue;
        throw error;
      }
      const candidates = await attesterCandidatesOf(net.user.ctx, served.stackId);
      const selected = await selectedOf(served.stackId, candidates);
      if (selected.length < 2) {
        await net.advance(WINDOW + 1);
        await drawAttesters(net.user.ctx, { stackId: served.stackId }).catch(() => undefined);
        continue;
      }
      await eventually(async () => {
        const s = await getAttesterSelection(net.user.ctx, served.stackId);
        return s.nodeIds.length === Math.min(selected.length, 4) ? true : undefined;
      }, "the selected to commit");
      await net.advance(WINDOW + 1);
      await drawAttesters(net.user.ctx, { stackId: served.stackId }).catch(() => undefined);
      await eventually(async () => {
        const st = await net.deployment.contracts.settlementManager.read.getSettlement([served.stackId]);
        return st.phase === REVEAL_PHASE ? true : undefined;
      }, "the reveal phase");
      const indices = await net.deployment.contracts.settlementManager.read.sampledIndices([served.stackId]);
      const revealed = await reveal(served, [...indices]);
      expect(revealed.outcome).toBe("accepted");
      expect(revealed.agreeing.length).toBe(Math.min(selected.length, 4));
      for (const id of revealed.agreeing) expect(selected).toContain(id);
      return;
    }
    throw new Error(`${ATTEMPTS} windows in a row with fewer than two selected`);
  }, 600_000);
});
