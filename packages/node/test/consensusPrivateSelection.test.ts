import { disputeSelectionAbi } from "@atoma/chain";
import { disputeManagerAbi } from "@atoma/contracts";
import { consensusRoot } from "@atoma/core";
import { stringToHex, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getVote } from "../src/consensus/duties.js";
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

const selectionEvents = (disputeId: bigint) => ({
  address: cluster.network.deployment.addresses.DisputeSelection!,
  abi: disputeSelectionAbi,
  args: { disputeId },
  fromBlock: 0n,
  strict: true as const,
});

describe("a consensus dispute's committee selects itself in private (issue 16)", () => {
  it("the consensus worker self-selects with its sealed vote, nobody is named before, and the cheater is still slashed", {
    timeout: 240_000,
  }, async () => {
    const { network, chainNodes, cheater } = cluster;
    const { publicClient } = network.admin;
    const _requester = await network.account();
    const prompt = stringToHex("Is 7 prime?");
    const { requestId, request, disputeId } = await disputedCheatRequest(cluster, prompt);
    const disputes = network.deployment.contracts.disputeManager;

    // The parties open the window themselves (mining the blocks its seed waits for on the quiet dev chain).
    const [opened] = await waitFor("the selection window", async () => {
      const logs = await publicClient.getContractEvents({
        ...selectionEvents(disputeId),
        eventName: "CommitteeSelectionOpened",
      });
      return logs.length > 0 ? logs : undefined;
    });
    // The three candidates (nodes 3–5; q = min(N, n)/n = 1) each evaluate their VRF and sit with a sealed vote.
    const seated = await waitFor("three self-selected seats", async () => {
      const logs = await publicClient.getContractEvents({
        ...selectionEvents(disputeId),
        eventName: "MemberSelfSelected",
      });
      return logs.length === 3 ? logs : undefined;
    });
    const members = seated.map((log) => log.args.nodeId).sort(byId);
    expect(members).toEqual(chainNodes.slice(2, 5).map((n) => n.nodeId));
    for (const log of seated) expect(log.args.commitment).not.toBe(zeroHash);
    // While the window is open the manager names nobody: no committee, no vote, nothing drawn in public.
    expect(await disputes.read.committeeOf([disputeId])).toEqual([]);
    expect((await disputes.read.getDispute([disputeId])).drawn).toBe(false);
    const openedEarly = await publicClient.getContractEvents({
      address: network.deployment.addresses.DisputeManager,
      abi: disputeManagerAbi,
      eventName: "DisputeOpened",
      args: { disputeId },
      fromBlock: 0n,
    });
    expect(openedEarly).toEqual([]);

    const head = await publicClient.getBlock();
    await network.advance(Number(opened!.args.endsAt - head.timestamp) + 1);
    await waitFor("delivery", async () => ((await request()).status === DELIVERED ? true : undefined));
    const { output, units } = await cluster.honestResult(requestId, prompt);
    const agreedRoot = consensusRoot(output, units, 3);
    const dispute = await disputes.read.getDispute([disputeId]);
    expect(dispute).toMatchObject({ decided: true, winner: agreedRoot });
    const committee = await disputes.read.committeeOf([disputeId]);
    expect(committee.map((m) => m.nodeId).sort(byId)).toEqual(members);
    for (const member of committee) {
      const sealed = seated.find((log) => log.args.nodeId === member.nodeId)!;
      expect(member.commitment).toBe(sealed.args.commitment); // sat with the vote it sealed in its selection
    }
    expect(await network.deployment.contracts.nodeRegistry.read.getNode([cheater.nodeId])).toMatchObject({
      collateral: 0n,
      status: 3, // Slashed
    });
    for (const member of members) {
      const vote = await waitFor("the vote to close", async () => {
        const row = await getVote(cluster.nodeOf(member).context.db, disputeId);
        return row?.state === "done" ? row : undefined;
      });
      expect(vote.result).toBe(agreedRoot);
    }
    // A party evaluated nothing and ends its row: it is no candidate.
    const party = await getVote(cluster.nodeOf(cheater.nodeId).context.db, disputeId);
    expect(party).toMatchObject({ state: "done", outcome: "not_selected" });
  });
});
