import { disputeSelectionAbi, execute } from "@atoma/chain";
import { disputeManagerAbi } from "@atoma/contracts";
import { stringToHex, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsensusCluster, startConsensusCluster, waitFor } from "../src/devnet/index.js";
import { disputedCheatRequest } from "./helpers/cheatDispute.js";

/** ConsensusRequests.Status.Disputed and Delivered */
const _DISPUTED = 4;
const DELIVERED = 5;
const byId = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

let cluster: ConsensusCluster;

beforeAll(async () => {
  cluster = await startConsensusCluster({ privateSelection: { window: 60, cap: 3 } });
}, 240_000);
afterAll(() => cluster?.stop(), 60_000);

describe("a dispute's later draw round selects its committee in private too (issue 16)", () => {
  it("round 0 forms no committee; round 1 opens its own window on a fresh seed and the nodes self-select again", {
    timeout: 300_000,
  }, async () => {
    const { network, chainNodes, cheater } = cluster;
    const { publicClient } = network.admin;
    const disputes = network.deployment.contracts.disputeManager;
    const selectionAt = network.deployment.addresses.DisputeSelection!;
    const { request, disputeId } = await disputedCheatRequest(cluster, stringToHex("Is 9 prime?"));
    const events = {
      address: selectionAt,
      abi: disputeSelectionAbi,
      args: { disputeId },
      fromBlock: 0n,
    } as const;
    const openedLogs = () =>
      publicClient.getContractEvents({ ...events, eventName: "CommitteeSelectionOpened", strict: true });
    const seatLogs = () =>
      publicClient.getContractEvents({ ...events, eventName: "MemberSelfSelected", strict: true });
    const windowOf = async (round: number) => (await openedLogs()).find((log) => log.args.round === round);

    // Round 0 cannot form: the governor raises the minimum above the three candidates while its window runs (the
    // test's way to make a round fail; a server that waits out its seeds gets the same).
    const params = await disputes.read.params();
    const [committeeSize, minCommittee, drawRounds, commitWindow, revealWindow, evidenceWindow, redrawDelay] =
      params;
    const setParams = (size: number, least: number) =>
      execute(network.admin, {
        address: network.deployment.addresses.DisputeManager,
        abi: disputeManagerAbi,
        functionName: "setParams",
        args: [
          {
            committeeSize: size,
            minCommittee: least,
            drawRounds,
            commitWindow,
            revealWindow,
            evidenceWindow,
            redrawDelay,
            maxEvidenceBytes: params[7],
          },
        ],
      });
    await setParams(5, 5);
    const round0 = await waitFor("round 0's window", () => windowOf(0));
    const head = await publicClient.getBlock();
    await network.advance(Number(round0.args.endsAt - head.timestamp) + 1);
    await waitFor("round 0 to fail", async () =>
      (await disputes.read.getDispute([disputeId])).drawRound >= 1 ? true : undefined,
    );
    expect((await disputes.read.getDispute([disputeId])).drawn).toBe(false);
    await setParams(committeeSize, minCommittee);

    // After the redraw delay the nodes arm round 1 and open its window: nobody is named, the seed is new.
    await network.advance(Number(redrawDelay) + 1);
    const round1 = await waitFor("round 1's window", () => windowOf(1));
    expect(round1.args.seed).not.toBe(round0.args.seed);
    const seated = await waitFor("three self-selected seats in round 1", async () => {
      const logs = (await seatLogs()).filter((log) => log.args.round === 1);
      return logs.length === 3 ? logs : undefined;
    });
    const members = seated.map((log) => log.args.nodeId).sort(byId);
    expect(members).toEqual(chainNodes.slice(2, 5).map((n) => n.nodeId));
    for (const log of seated) expect(log.args.commitment).not.toBe(zeroHash);
    expect(await disputes.read.committeeOf([disputeId])).toEqual([]);
    expect((await disputes.read.getDispute([disputeId])).drawn).toBe(false);

    // After round 1's window the members sit with the votes they sealed in it, and the cheater is slashed.
    const now = await publicClient.getBlock();
    await network.advance(Number(round1.args.endsAt - now.timestamp) + 1);
    await waitFor("delivery", async () => ((await request()).status === DELIVERED ? true : undefined));
    const committee = await disputes.read.committeeOf([disputeId]);
    expect(committee.map((m) => m.nodeId).sort(byId)).toEqual(members);
    for (const member of committee) {
      const sealed = seated.find((log) => log.args.nodeId === member.nodeId)!;
      expect(member.commitment).toBe(sealed.args.commitment);
    }
    expect((await disputes.read.getDispute([disputeId])).drawRound).toBe(2);
    expect(await network.deployment.contracts.nodeRegistry.read.getNode([cheater.nodeId])).toMatchObject({
      collateral: 0n,
      status: 3, // Slashed
    });
  });
});
