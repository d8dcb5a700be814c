import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { replacementSelectionSeed } from "@atoma/core";
import { type Hex, keccak256, parseEther, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readArmedAttesterDraw } from "../src/actions/armedDraws.js";
import { buyStack } from "../src/actions/buyStack.js";
import { sendAttestationCommitment } from "../src/actions/commitAttestation.js";
import type { ChainContext } from "../src/actions/context.js";
import { drawAttesters } from "../src/actions/drawAttesters.js";
import { getAttesters, getSettlement } from "../src/actions/getSettlement.js";
import { registerVrfKey } from "../src/actions/registerVrfKey.js";
import { reportSilentReplacement } from "../src/actions/reportSilentSelection.js";
import { currentAttesterSelection, evaluateSelection, selfSelect } from "../src/actions/selfSelect.js";
import { timeoutAttesters } from "../src/actions/settlementDeadlines.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import { SecurityLevel } from "../src/portable.js";

/** `SettlementDraw.MIN_SELECTION_WINDOW`. */
const WINDOW = 60;

/**
 * Replacement attesters self-select in private too (issue 16): the chain actions against the contracts on anvil.
 * A first window nobody sits in is topped up in public; one of the two public attesters misses its commit, and its
 * replacement is drawn in a private window of its own round, on a seed from the block after the timeout.
 */
describe("private replacement rounds against anvil", () => {
  let network: Devnet;
  let taskId: bigint;
  let user: { ctx: ChainContext };
  const members: { node: DevNode; key: Hex }[] = [];
  const byId = (id: bigint) => members.find((m) => m.node.nodeId === id)!;
  const reasonOf = async (promise: Promise<unknown>) =>
    promise.then(
      () => "sent",
      (error: { errorName?: string }) => error.errorName ?? String(error),
    );

  beforeAll(async () => {
    network = await startDevnet({ privateSelection: { window: WINDOW, cap: 8 } });
    const { modelId } = await network.registerModel({ name: "atoma-tiny" });
    for (let i = 0; i < 7; i++) {
      const node = await network.addNode();
      members.push({ node, key: keccak256(toHex(`replacement test vrf ${i}`)) });
    }
    taskId = await network.addTask({
      modelId,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 1,
      nodes: members.map((m) => m.node),
    });
    for (const m of members) await registerVrfKey(m.node.signer, { nodeId: m.node.nodeId, secretKey: m.key });
    user = await network.account(parseEther("100000"));
    await network.nextEpoch();
  }, 180_000);
  afterAll(() => network?.stop());

  it("the replacement self-selects on a fresh seed, names nobody before its commitment, and a silent one is reportable", async () => {
    for (let attempt = 0; attempt < 6; attempt++) {
      const stack = await buyStack(user.ctx, {
        taskId,
        units: 1_000n,
        maxPricePerMillion: DEV_PRICE_PER_MILLION,
        duration: 86_400n,
      });
      const server = byId(stack.nodeId);
      const settled = await submitSettlement(server.node.signer, {
        stackId: stack.stackId,
        root: keccak256(toHex(`root ${attempt}`)),
        units: 100n,
        requestCount: 1n,
        transcriptId: keccak256(toHex(`transcript ${attempt}`)),
      });
      if (settled.outcome !== "drawPending") throw new Error(`unexpected ${settled.outcome}`);
      const candidates = settled.candidates;
      await network.advance(0);
      expect((await drawAttesters(user.ctx, { stackId: stack.stackId })).outcome).toBe("selectionOpened");
      // Every selected candidate of the first window is offline: the window closes into the public top-up.
      await network.advance(WINDOW + 1);
      expect((await drawAttesters(user.ctx, { stackId: stack.stackId })).outcome).toBe("fallback");
      await network.advance(0);
      const topUp = await drawAttesters(user.ctx, { stackId: stack.stackId });
      if (topUp.outcome !== "sampled") throw new Error(`expected sampled, got ${topUp.outcome}`);
      const [present, absent] = topUp.attesters;
      await sendAttestationCommitment(byId(present!).node.signer, {
        stackId: stack.stackId,
        nodeId: present!,
        commitment: keccak256(toHex("present")),
      });
      const { deadline } = await getSettlement(user.ctx, stack.stackId);
      const head = await network.admin.publicClient.getBlock();
      await network.advance(Number(deadline - head.timestamp) + 1);
      const timedOut = await timeoutAttesters(user.ctx, { stackId: stack.stackId });
      expect(timedOut.timedOut).toEqual([absent]);
      const armed = await readArmedAttesterDraw(user.ctx, stack.stackId);
      expect(armed.round).toBe(2);
      // Nothing is open until the block after the timeout's exists; then a private window, naming nobody.
      expect(await currentAttesterSelection(user.ctx, stack.stackId)).toBeUndefined();
      await network.advance(0);
      const opened = await drawAttesters(user.ctx, { stackId: stack.stackId });
      if (opened.outcome !== "selectionOpened") throw new Error(`expected a window, got ${opened.outcome}`);
      expect(opened.round).toBe(2);
      const seedBlock = await network.admin.publicClient.getBlock({ blockNumber: armed.armedAt + 1n });
      expect(opened.seed).toBe(replacementSelectionSeed(stack.stackId, 2, seedBlock.hash!));
      const selection = (await currentAttesterSelection(user.ctx, stack.stackId))!;
      expect(selection).toMatchObject({ round: 2, seed: opened.seed, nodeIds: [] });
      const eligible = candidates.filter((id) => id !== present && id !== absent);
      expect(selection.numerator).toBe(1n);
      expect(selection.denominator).toBe(BigInt(eligible.length));
      expect((await getAttesters(user.ctx, stack.stackId)).length).toBe(2);
      const selected = eligible.filter((id) => evaluateSelection(byId(id).key, selection).selected);
      const unselected = eligible.filter((id) => !selected.includes(id));
      const commitment = keccak256(toHex("replacement"));
      // Past attesters are no candidates of their own replacement; the unselected are refused.
      for (const id of [present!, absent!]) {
        const proof = evaluateSelection(byId(id).key, { ...selection, numerator: 1n, denominator: 1n });
        if (!proof.selected) throw new Error("a threshold of 1 selects everyone");
        expect(
          await reasonOf(
            selfSelect(byId(id).node.signer, { stackId: stack.stackId, nodeId: id, proof, commitment }),
          ),
        ).toBe("NotCandidate");
      }
      for (const id of unselected) {
        const proof = evaluateSelection(byId(id).key, { ...selection, numerator: 1n, denominator: 1n });
        if (!proof.selected) throw new Error("a threshold of 1 selects everyone");
        expect(
          await reasonOf(
            selfSelect(byId(id).node.signer, { stackId: stack.stackId, nodeId: id, proof, commitment }),
          ),
        ).toBe("NotSelected");
      }
      if (selected.length === 0) continue; // nobody selected: the public top-up (forge covers it); another stack
      const [sitting, silent] = selected.sort((a, b) => {
        const pa = evaluateSelection(byId(a).key, selection);
        const pb = evaluateSelection(byId(b).key, selection);
        return pa.selected && pb.selected && pa.beta < pb.beta ? -1 : 1;
      });
      const proof = evaluateSelection(byId(sitting!).key, selection);
      if (!proof.selected) throw new Error("selected");
      await selfSelect(byId(sitting!).node.signer, {
        stackId: stack.stackId,
        nodeId: sitting!,
        proof,
        commitment,
      });
      await network.advance(WINDOW + 1);
      const closed = await drawAttesters(user.ctx, { stackId: stack.stackId });
      if (closed.outcome !== "replaced") throw new Error(`expected replaced, got ${closed.outcome}`);
      expect(closed.attesters).toEqual([sitting]);
      const attesters = await getAttesters(user.ctx, stack.stackId);
      expect(attesters.find((a) => a.nodeId === sitting)).toMatchObject({ committed: true, commitment });
      if (silent === undefined) return;
      // The silent selected one's output is above the one seat's: it would not have sat, so nobody can frame it.
      const silentProof = evaluateSelection(byId(silent).key, selection);
      if (!silentProof.selected) throw new Error("selected");
      expect(
        await reasonOf(
          reportSilentReplacement(user.ctx, {
            stackId: stack.stackId,
            round: 2,
            nodeId: silent,
            proof: silentProof,
          }),
        ),
      ).toBe("NotSilent");
      return;
    }
    throw new Error("six replacement windows in a row with nobody selected");
  }, 240_000);
});
