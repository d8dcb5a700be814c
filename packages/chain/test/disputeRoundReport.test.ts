import { disputeManagerAbi } from "@atoma/contracts";
import { type Hex, keccak256, parseEventLogs, stringToHex, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportSilentCommitteeMember } from "../src/actions/committeeSeeds.js";
import { getCommitteeSelection, openCommitteeSelection } from "../src/actions/committeeSelection.js";
import { committeeWindowCandidates } from "../src/actions/committeeWindowCandidates.js";
import { revealConsensusResult, sealConsensusResult } from "../src/actions/consensusCommit.js";
import { submitConsensusRequest } from "../src/actions/consensusRequest.js";
import type { ChainContext } from "../src/actions/context.js";
import { readDispute, readDisputeCandidates } from "../src/actions/disputeReads.js";
import { drawCommittee } from "../src/actions/disputeSteps.js";
import { execute } from "../src/actions/execute.js";
import { registerVrfKey } from "../src/actions/registerVrfKey.js";
import { evaluateSelection } from "../src/actions/selfSelect.js";
import { type DevNode, type Devnet, startDevnet } from "../src/devnet/index.js";
import { disputeSelectionAbi } from "../src/portable.js";
import { PRICE, SecurityLevel, TEST_ECHELONS } from "./network.js";

const WINDOW = 60;
const salt = (k: number): Hex => `0x${k.toString(16).padStart(64, "0")}`;

/**
 * Review M1: a node selected in a dispute round that formed no committee stays silent, and the next round's snapshot
 * replaces the manager's candidate list. Its silence must stay reportable on the list the window opened on.
 */
describe("a failed round's silence stays reportable after the next round is armed, against anvil", () => {
  let network: Devnet;
  let user: { ctx: ChainContext };
  const nodes: { node: DevNode; key: Hex }[] = [];
  let late: DevNode;
  let task: bigint;
  const byId = (id: bigint) => nodes.find((m) => m.node.nodeId === id)!;
  const reasonOf = async (promise: Promise<unknown>) =>
    promise.then(
      () => "sent",
      (error: { errorName?: string }) => error.errorName ?? String(error),
    );

  beforeAll(async () => {
    network = await startDevnet({
      parameters: { dispute: { minCommittee: 3 } },
      echelons: TEST_ECHELONS,
      privateSelection: { window: WINDOW, cap: 7 },
    });
    const { modelId } = await network.registerModel({ name: "atoma-tiny" });
    for (let i = 0; i < 7; i++) {
      const node = await network.addNode({ echelon: 2 });
      nodes.push({ node, key: keccak256(toHex(`round report vrf ${i}`)) });
    }
    late = await network.addNode({ echelon: 2 });
    task = await network.addTask({
      modelId,
      securityLevel: SecurityLevel.Consensus,
      nodes: nodes.map((m) => m.node),
    });
    for (const m of nodes) await registerVrfKey(m.node.signer, { nodeId: m.node.nodeId, secretKey: m.key });
    user = await network.account();
    await network.nextEpoch();
  }, 180_000);
  afterAll(() => network?.stop());

  /** The governor sets the committee size and minimum (the test's way to make a round fail). */
  async function setCommittee(size: number, least: number) {
    const p = await network.deployment.contracts.disputeManager.read.params();
    await execute(network.admin, {
      address: network.deployment.addresses.DisputeManager,
      abi: disputeManagerAbi,
      functionName: "setParams",
      args: [
        {
          committeeSize: size,
          minCommittee: least,
          drawRounds: p[2],
          commitWindow: p[3],
          revealWindow: p[4],
          evidenceWindow: p[5],
          redrawDelay: p[6],
          maxEvidenceBytes: p[7],
        },
      ],
    });
  }

  it("X, silent in round 0, is slashed for round 0 on the list its window emitted; round 1's list is refused", async () => {
    /** A disputed consensus request whose round-0 window selected someone (each candidate is selected w.p. 3/4). */
    const disputeWithSelected = async () => {
      const { requestId, seats } = await submitConsensusRequest(user.ctx, {
        taskId: task,
        prompt: stringToHex("Is 9 prime?"),
        n: 3,
        maxUnits: 1_000n,
        maxPricePerMillion: PRICE,
        echelon: 2,
        callbackGas: 0,
      });
      const outputs = [stringToHex("no"), stringToHex("yes"), stringToHex("no")];
      const seat = (i: number) => ({
        requestId,
        index: i + 1,
        n: 3,
        output: outputs[i]!,
        units: 40n,
        salt: salt(i),
      });
      for (const [i, id] of seats!.nodeIds.entries())
        await sealConsensusResult(byId(id).node.signer, seat(i));
      for (const [i, id] of seats!.nodeIds.entries())
        await revealConsensusResult(byId(id).node.signer, seat(i));
      const disputeId = await network.deployment.contracts.disputeManager.read.disputeCount();
      await network.advance(1);
      await network.advance(1);
      await openCommitteeSelection(user.ctx, { disputeId });
      const round0 = await getCommitteeSelection(user.ctx, { disputeId });
      const listed = await readDisputeCandidates(user.ctx, disputeId);
      const silent = listed.find((id) => evaluateSelection(byId(id).key, round0).selected);
      return silent === undefined ? undefined : { disputeId, round0, listed, silent };
    };
    let found: Awaited<ReturnType<typeof disputeWithSelected>>;
    for (let attempt = 0; attempt < 8 && !found; attempt++) found = await disputeWithSelected();
    if (!found) throw new Error("nobody selected in round 0 of eight disputes");
    const { disputeId, round0, listed, silent } = found;
    const proof = evaluateSelection(byId(silent).key, round0);
    if (!proof.selected) throw new Error("selected");

    // Round 0 forms no committee: nobody sits, and its public draw finds fewer than the (raised) minimum.
    await setCommittee(5, 5);
    // The window lasts at least the dispute's commit window.
    await network.advance(Number(round0.endsAt - (await network.now())) + 1);
    for (let i = 0; i < 6 && (await readDispute(user.ctx, disputeId)).drawRound === 0; i++) {
      await drawCommittee(user.ctx, { disputeId });
      await network.advance(1);
      await network.advance(1);
    }
    expect((await readDispute(user.ctx, disputeId)).drawRound).toBe(1);
    await setCommittee(3, 3);
    // A new candidate joins before round 1 freezes its list; round 1 is armed.
    await network.subscribe(late, task);
    await network.nextEpoch();
    const armed = await drawCommittee(user.ctx, { disputeId });
    expect(armed.outcome).toBe("armed");
    const current = await readDisputeCandidates(user.ctx, disputeId);
    expect(current).toContain(late.nodeId);
    expect(current).not.toEqual(listed);

    // X's proof surfaces now. The manager's (round 1's) list is refused for round 0.
    expect(
      await reasonOf(
        reportSilentCommitteeMember(user.ctx, {
          disputeId,
          round: 0,
          nodeId: silent,
          proof,
          candidates: current,
        }),
      ),
    ).toBe("SelectionNotOpen");
    // The default reads round 0's list from its CommitteeSelectionOpened event.
    expect(await committeeWindowCandidates(user.ctx, { disputeId, round: 0 })).toEqual(listed);
    const before = (await network.deployment.contracts.nodeRegistry.read.getNode([silent])).collateral;
    const sent = await reportSilentCommitteeMember(user.ctx, { disputeId, round: 0, nodeId: silent, proof });
    const receipt = await network.admin.publicClient.getTransactionReceipt({ hash: sent.hash });
    const [slashed] = parseEventLogs({
      abi: disputeSelectionAbi,
      logs: receipt.logs,
      eventName: "SilentMemberSlashed",
    });
    expect(slashed?.args).toMatchObject({ disputeId, round: 0, nodeId: silent });
    const after = (await network.deployment.contracts.nodeRegistry.read.getNode([silent])).collateral;
    expect(after).toBe(before - slashed!.args.taken);
    expect(slashed!.args.taken).toBeGreaterThan(0n);
    // Round 1 never opened: nothing to read, nothing to report.
    expect(await reasonOf(committeeWindowCandidates(user.ctx, { disputeId, round: 1 }))).toContain(
      "never opened",
    );
  });
});
