import {
  attesterCandidatesOf,
  getAttesterSelection,
  getVrfKey,
  vrfKeyUsableForSettlement,
} from "@atoma/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard } from "./harness/strategies.js";

/**
 * Issue 16, review L3: a candidate whose VRF key was registered after its settlement froze the candidates can never
 * select itself there (`VrfKeyTooNew`). Its attestation worker asks first (`vrfKeyUsableForSettlement`) and drops the
 * duty: it neither fetches the transcript nor recomputes the sample, and sends nothing. On anvil with real nodes: 3
 * early nodes and a late one (priced out of serving, so always a candidate) started only after the first settlement froze.
 */
describe("a candidate whose VRF key is newer than the freeze", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 4,
      late: 1,
      sampleSize: 1,
      attesters: 2,
      privateSelection: { window: 60, cap: 4 },
      strategyOf: (id) => board.strategyFor(id),
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  it("drops the duty without fetching or recomputing; on a settlement after its key, it works as any candidate", async () => {
    const late = net.nodes[3]!;
    const ctx = net.user.ctx;
    const first = await serveAndSettle(net, 2, { engine: net.engine });
    const candidates = await attesterCandidatesOf(ctx, first.stackId);
    expect(candidates).toContain(late.nodeId);
    expect(candidates).toHaveLength(3);
    const early = candidates.filter((id) => id !== late.nodeId);
    // The late node starts now: its key is registered after the first settlement's freeze.
    await net.startLate();
    await eventually(() => getVrfKey(ctx, late.nodeId), "the late node's key");
    expect(await vrfKeyUsableForSettlement(ctx, { stackId: first.stackId, nodeId: late.nodeId })).toBe(false);
    // A second settlement, frozen after the key: the late node is a candidate like any other there.
    const second = await serveAndSettle(net, 2, { engine: net.engine });
    expect(await vrfKeyUsableForSettlement(ctx, { stackId: second.stackId, nodeId: late.nodeId })).toBe(true);
    await eventually(
      async () => (board.recomputedSample(second.stackId).includes(late.nodeId) ? true : undefined),
      "the late node to recompute the second settlement's sample",
    );
    // The other candidates (keys older than both settlements) recomputed the first settlement's sample; the late node
    // did not, and the server saw one fetch of that transcript per early candidate, none from the late node.
    await eventually(
      async () => (board.recomputedSample(first.stackId).length >= early.length ? true : undefined),
      "the early candidates to recompute the first settlement's sample",
    );
    expect([...board.recomputedSample(first.stackId)].sort()).toEqual([...early].sort());
    expect(first.server.front.blobRequests.get(first.transcriptId.toLowerCase())).toBe(early.length);
    const rows = await late.node.context.db
      .selectFrom("attestation_tasks")
      .selectAll()
      .where("stack_id", "=", first.stackId)
      .execute();
    expect(rows).toEqual([]);
    expect((await getAttesterSelection(ctx, first.stackId)).nodeIds).not.toContain(late.nodeId);
  }, 300_000);
});
