import {
  attesterCandidatesOf,
  currentAttesterSelection,
  drawAttesters,
  evaluateSelection,
  getAttesters,
  settlementDrawAbi,
} from "@atoma/chain";
import { zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeVrfKey } from "../src/attestation/vrfKey.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { revealOnly, serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard, silentStrategy } from "./harness/strategies.js";

/** The shortest window the contract takes (`MIN_SELECTION_WINDOW`). */
const WINDOW = 60;
/**
 * Stacks tried for a replacement window that selects someone: each selects nobody with probability about
 * (1 - 1/n)^n <= 0.37, so six in a row fall short with probability below 0.3 %. Each costs the network its silent
 * attester: nine nodes leave the four verifiers a purchase needs (two attesters and a committee of one, besides
 * the server) after five of them.
 */
const ATTEMPTS = 6;
const Phase = { Drawing: 8, Commit: 1, Reveal: 2 } as const;

/**
 * Replacement attesters select themselves in private (issue 16) with real nodes: a settlement's first window goes
 * unanswered (every node waits), its public top-up draws two attesters, one stays silent and is timed out, and its
 * replacement round opens a private window that names nobody: every candidate's node fetches and recomputes, and
 * the selected seat with their commitment.
 */
describe("private replacement rounds with real nodes", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 9,
      sampleSize: 1,
      attesters: 2,
      privateSelection: { window: WINDOW, cap: 4 },
      strategyOf: (id) => board.strategyFor(id),
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const settlementOf = (stackId: bigint) =>
    net.deployment.contracts.settlementManager.read.getSettlement([stackId]);

  it("the nodes replace a silent attester by private self-selection, naming nobody before the seat's commitment", async () => {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      board.reset();
      board.open = false;
      const served = await serveAndSettle(net, 2, { engine: net.engine });
      const stackId = served.stackId;
      const candidates = await attesterCandidatesOf(net.user.ctx, stackId);
      // The first window passes with every node waiting: nobody sits, and the must-check settlement is topped up.
      await net.advance(WINDOW + 1);
      await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
      await net.advance(0);
      await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
      const drawn = await eventually(async () => {
        const list = await getAttesters(net.user.ctx, stackId);
        return list.length === 2 ? list.map((a) => a.nodeId) : undefined;
      }, "the public top-up");
      const [present, absent] = drawn as [bigint, bigint];
      board.assign(absent, silentStrategy);
      board.open = true;
      // The present one commits; the silent one misses its deadline and the nodes time it out.
      await eventually(async () => {
        const list = await getAttesters(net.user.ctx, stackId);
        return list.find((a) => a.nodeId === present)?.committed ? true : undefined;
      }, "the present attester to commit");
      const { deadline } = await settlementOf(stackId);
      const head = await net.user.ctx.publicClient.getBlock();
      // From here: the nodes time the silent one out and may open the replacement window themselves (a committed
      // duty draws in the Drawing phase) before the test looks, so its events are searched from this block on.
      const fromBlock = head.number;
      await net.advance(Number(deadline - head.timestamp) + 1);
      await eventually(
        async () => ((await settlementOf(stackId)).phase === Phase.Drawing ? true : undefined),
        "the replacement round to be armed",
      );
      await net.advance(0);
      const selection = await eventually(
        async () => currentAttesterSelection(net.user.ctx, stackId),
        "the nodes to open the replacement window",
      );
      expect(selection.round).toBe(2);
      const eligible = candidates.filter((id) => id !== present && id !== absent);
      const registry = net.deployment.addresses.VrfKeyRegistry!;
      const selected: bigint[] = [];
      for (const id of eligible) {
        const key = await nodeVrfKey(net.byId(id).signerAccount, {
          chainId: net.anvil.chainId,
          vrfKeyRegistry: registry,
        });
        if (evaluateSelection(key, selection).selected) selected.push(id);
      }
      // The opening names nobody: the event carries the seed and threshold only.
      const opened = await net.user.ctx.publicClient.getContractEvents({
        address: net.deployment.addresses.SettlementDraw,
        abi: settlementDrawAbi,
        eventName: "ReplacementSelectionOpened",
        args: { stackId },
        fromBlock,
        strict: true,
      });
      expect(opened).toHaveLength(1);
      expect(Object.keys(opened[0]!.args).sort()).toEqual(
        ["denominator", "endsAt", "numerator", "round", "seed", "stackId"].sort(),
      );
      if (selected.length === 0) {
        // The round goes to its public top-up (forge covers it). The server reveals once that replacement committed,
        // so the attempt costs the network only its silent attester: the next purchase needs verifiers enough.
        await net.advance(WINDOW + 1);
        await net.advance(0);
        await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
        await eventually(
          async () => ((await settlementOf(stackId)).phase === Phase.Reveal ? true : undefined),
          "the public replacement to commit",
        );
        const indices = await net.deployment.contracts.settlementManager.read.sampledIndices([stackId]);
        await revealOnly(served, [...indices]);
        continue;
      }
      const seat = await eventually(async () => {
        const logs = await net.user.ctx.publicClient.getContractEvents({
          address: net.deployment.addresses.SettlementDraw,
          abi: settlementDrawAbi,
          eventName: "AttesterSelfSelected",
          args: { stackId },
          fromBlock,
          strict: true,
        });
        return logs.length > 0 ? logs : undefined;
      }, "a selected node to seat itself");
      for (const log of seat) {
        expect(selected).toContain(log.args.nodeId);
        expect(log.args.commitment).not.toBe(zeroHash);
      }
      await net.advance(WINDOW + 1);
      const replaced = await eventually(async () => {
        const list = await getAttesters(net.user.ctx, stackId);
        return list.length === 3 ? list : undefined;
      }, "the replacement to join");
      const joined = replaced[2]!;
      expect(selected).toContain(joined.nodeId);
      expect(joined.committed).toBe(true);
      return;
    }
    throw new Error(`${ATTEMPTS} replacement windows in a row with nobody selected`);
  }, 600_000);
});
