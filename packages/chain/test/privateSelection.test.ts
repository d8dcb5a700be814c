import { DEV_PRICE_PER_MILLION, type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { type Hex, keccak256, parseEther, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buyStack } from "../src/actions/buyStack.js";
import {
  disputeSelectionOf,
  getCommitteeSelection,
  openCommitteeSelection,
} from "../src/actions/committeeSelection.js";
import type { ChainContext } from "../src/actions/context.js";
import { drawAttesters } from "../src/actions/drawAttesters.js";
import { getVrfKey, registerVrfKey } from "../src/actions/registerVrfKey.js";
import { evaluateSelection, getAttesterSelection, selfSelect } from "../src/actions/selfSelect.js";
import { submitSettlement } from "../src/actions/submitSettlement.js";
import { disputeSelectionAbi, SecurityLevel } from "../src/portable.js";

/** `SettlementDraw.MIN_SELECTION_WINDOW`. */
const WINDOW = 60;

/** The chain actions of private self-selection against the contracts on anvil, with attackers. */
describe("private self-selection actions against anvil", () => {
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
    for (let i = 0; i < 6; i++) {
      const node = await network.addNode();
      members.push({ node, key: keccak256(toHex(`chain test vrf ${i}`)) });
    }
    taskId = await network.addTask({
      modelId,
      securityLevel: SecurityLevel.CrossValidation,
      replicationPpm: 1_000_000,
      attesters: 2,
      sampleSize: 1,
      nodes: members.map((m) => m.node),
    });
    user = await network.account(parseEther("100000"));
    await network.nextEpoch();
  }, 180_000);
  afterAll(() => network?.stop());

  it("a node's signer registers its key once; a stranger cannot register one for it", async () => {
    const [first] = members;
    expect(
      await reasonOf(registerVrfKey(user.ctx, { nodeId: first!.node.nodeId, secretKey: first!.key })),
    ).toBe("NotNodeOperator");
    for (const m of members) {
      const sent = await registerVrfKey(m.node.signer, { nodeId: m.node.nodeId, secretKey: m.key });
      expect(sent?.publicKey).toBeDefined();
      expect(await getVrfKey(user.ctx, m.node.nodeId)).toBeDefined();
    }
    // Once set, the action sends nothing (the contract would refuse a second key).
    expect(
      await registerVrfKey(first!.node.signer, { nodeId: first!.node.nodeId, secretKey: first!.key }),
    ).toBe(undefined);
  }, 120_000);

  it("only the selected candidates commit, once each; the server and the unselected are refused; the window closes onto them", async () => {
    for (let attempt = 0; attempt < 8; attempt++) {
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
      // The seed is the hash of the block after the settlement's: the window opens once that block is mined.
      expect((await getAttesterSelection(user.ctx, stack.stackId)).endsAt).toBe(0n);
      await network.advance(0);
      expect((await drawAttesters(user.ctx, { stackId: stack.stackId })).outcome).toBe("selectionOpened");
      expect(candidates).not.toContain(server.node.nodeId);
      const selection = await getAttesterSelection(user.ctx, stack.stackId);
      const selected = candidates.filter((id) => evaluateSelection(byId(id).key, selection).selected);
      const unselected = candidates.filter((id) => !selected.includes(id));
      const commitment = keccak256(toHex("commitment"));
      // The server with its own output on its own settlement: not a candidate, whatever its output.
      const own = evaluateSelection(server.key, { ...selection, numerator: 1n, denominator: 1n });
      if (own.selected)
        expect(
          await reasonOf(
            selfSelect(server.node.signer, {
              stackId: stack.stackId,
              nodeId: server.node.nodeId,
              proof: own,
              commitment,
            }),
          ),
        ).toBe("NotCandidate");
      // An unselected candidate with a valid proof of its own output, and with a selected node's proof.
      for (const id of unselected) {
        const proof = evaluateSelection(byId(id).key, { ...selection, numerator: 1n, denominator: 1n });
        if (!proof.selected) throw new Error("a threshold of 1 selects everyone");
        const signer = byId(id).node.signer;
        expect(
          await reasonOf(selfSelect(signer, { stackId: stack.stackId, nodeId: id, proof, commitment })),
        ).toBe("NotSelected");
      }
      // Fewer than N = 2 selected on a settlement that must be checked: public attesters would join; another stack.
      if (selected.length < 2) continue;
      for (const id of selected) {
        const proof = evaluateSelection(byId(id).key, selection);
        if (!proof.selected) throw new Error("selected");
        const signer = byId(id).node.signer;
        await selfSelect(signer, { stackId: stack.stackId, nodeId: id, proof, commitment });
        expect(
          await reasonOf(selfSelect(signer, { stackId: stack.stackId, nodeId: id, proof, commitment })),
        ).toBe("AlreadySelected");
      }
      expect(await reasonOf(drawAttesters(user.ctx, { stackId: stack.stackId }))).toBe("SelectionWindowOpen");
      await network.advance(WINDOW + 1);
      const closed = await drawAttesters(user.ctx, { stackId: stack.stackId });
      if (closed.outcome !== "sampled") throw new Error(`expected sampled, got ${closed.outcome}`);
      expect([...closed.attesters].sort()).toEqual([...selected].sort());
      return;
    }
    throw new Error("eight windows in a row with fewer than two selected");
  }, 180_000);

  it("the deployment wires a DisputeSelection of its dispute manager; nobody else may take a committee from it", async () => {
    const { addresses } = network.deployment;
    const selection = disputeSelectionOf(user.ctx);
    expect(selection).toBe(addresses.DisputeSelection);
    const read = (functionName: "disputes" | "vrfKeys" | "window" | "cap") =>
      network.admin.publicClient.readContract({ address: selection, abi: disputeSelectionAbi, functionName });
    expect(await read("disputes")).toBe(addresses.DisputeManager);
    expect(await read("vrfKeys")).toBe(addresses.VrfKeyRegistry);
    expect(await read("window")).toBe(BigInt(WINDOW));
    // Default cap: 2 · committeeSize + 1 (dev committees are 3).
    expect(await read("cap")).toBe(7);
    expect(await reasonOf(openCommitteeSelection(user.ctx, { disputeId: 999n }))).toBe("SelectionNotReady");
    const none = await getCommitteeSelection(user.ctx, { disputeId: 999n });
    expect(none.endsAt).toBe(0n);
  }, 60_000);
});
