import {
  currentAttesterSelection,
  drawAttesters,
  evaluateSelection,
  getAttesters,
  postSampledRequests,
  settlementDrawAbi,
} from "@atoma/chain";
import { zeroAddress, zeroHash } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeVrfKey } from "../src/attestation/vrfKey.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard, silentStrategy } from "./harness/strategies.js";

/** The shortest window the contract takes (`MIN_SELECTION_WINDOW`). */
const WINDOW = 60;
const Phase = { Failed: 6, Drawing: 8 } as const;

/**
 * A replacement round's private window needs the settlement's sampled leaf like a first window does (issue 16): a
 * replacement candidate that never fetched the transcript (the first draw was public, so only its attesters did)
 * and cannot fetch it now asks for it on chain in its round's window (`requestSelectionData`), naming nobody. A
 * server that posts it lets the selected replacement seat on the posted request; a server that withholds it gets
 * no seat from the round, a public replacement instead, and loses its collateral when it keeps withholding.
 */
describe("a replacement window's data request with real nodes", () => {
  let net: AttestNetwork;
  const board = new StrategyBoard();

  beforeAll(async () => {
    net = await startAttestNetwork({
      nodes: 7,
      sampleSize: 1,
      attesters: 2,
      fetchTimeoutMs: 3_000,
      privateSelection: { window: WINDOW, cap: 4 },
      strategyOf: (id) => board.strategyFor(id),
    });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const settlementOf = (stackId: bigint) =>
    net.deployment.contracts.settlementManager.read.getSettlement([stackId]);
  const setPrivate = async (on: boolean) => {
    const hash = await net.deployment.contracts.settlementDraw.write.setPrivateSelection([
      on ? net.deployment.addresses.VrfKeyRegistry! : zeroAddress,
      BigInt(WINDOW),
      4,
    ]);
    await net.user.ctx.publicClient.waitForTransactionReceipt({ hash });
  };
  const seatsOf = async (stackId: bigint) =>
    net.user.ctx.publicClient.getContractEvents({
      address: net.deployment.addresses.SettlementDraw,
      abi: settlementDrawAbi,
      eventName: "AttesterSelfSelected",
      args: { stackId },
      fromBlock: 0n,
      strict: true,
    });
  const asksOf = async (stackId: bigint) =>
    net.user.ctx.publicClient.getContractEvents({
      address: net.deployment.addresses.SettlementDraw,
      abi: settlementDrawAbi,
      eventName: "SelectionDataRequested",
      args: { stackId },
      fromBlock: 0n,
      strict: true,
    });

  /**
   * A settlement drawn in public (private selection off for its first draw), one attester committed and the
   * other timed out; the server then stops serving its transcript and private selection is back on, so the
   * replacement round opens privately among candidates that never fetched it.
   */
  async function toReplacementWindow() {
    board.reset();
    board.open = false;
    await setPrivate(false);
    const served = await serveAndSettle(net, 2, { engine: net.engine });
    const stackId = served.stackId;
    await net.advance(0);
    await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    const [present, absent] = (await eventually(async () => {
      const list = await getAttesters(net.user.ctx, stackId);
      return list.length === 2 ? list.map((a) => a.nodeId) : undefined;
    }, "the public draw")) as [bigint, bigint];
    board.assign(absent, silentStrategy);
    board.open = true;
    await eventually(async () => {
      const list = await getAttesters(net.user.ctx, stackId);
      return list.find((a) => a.nodeId === present)?.committed ? true : undefined;
    }, "the present attester to commit");
    served.server.front.stall(served.transcriptId);
    await setPrivate(true);
    const { deadline } = await settlementOf(stackId);
    const head = await net.user.ctx.publicClient.getBlock();
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
    expect(selection.round).toBe(1);
    const asked = await eventually(async () => {
      const logs = await asksOf(stackId);
      return logs.length > 0 ? logs[0]! : undefined;
    }, "a candidate to ask for the sampled leaf");
    // A candidate of the round asked (never an attester of the settlement), for the settlement's own sample.
    expect([present, absent, served.server.nodeId]).not.toContain(asked.args.nodeId);
    const sampled = await net.deployment.contracts.settlementManager.read.sampledIndices([stackId]);
    expect(asked.args.requestIndices).toEqual(sampled);
    // Nothing to recompute on, and a seat needs a commitment: nobody sits while the data is missing.
    expect(await seatsOf(stackId)).toEqual([]);
    const registry = net.deployment.addresses.VrfKeyRegistry!;
    const selected: bigint[] = [];
    for (const node of net.nodes) {
      if ([present, absent, served.server.nodeId].includes(node.nodeId)) continue;
      const key = await nodeVrfKey(node.signerAccount, {
        chainId: net.anvil.chainId,
        vrfKeyRegistry: registry,
      });
      if (evaluateSelection(key, selection).selected) selected.push(node.nodeId);
    }
    return { served, stackId, present, absent, selected, sampled };
  }

  it("the server posts the leaf asked for in the replacement window and the selected replacement seats on it", async () => {
    for (let attempt = 0; attempt < 4; attempt++) {
      const { served, stackId, selected, sampled } = await toReplacementWindow();
      await postSampledRequests(served.server.signer, {
        stackId,
        requests: sampled.map((k) => served.requests[Number(k)]!),
      });
      expect((await settlementOf(stackId)).dataPosted).toBe(true);
      if (selected.length === 0) {
        // Nobody selected: the round goes to its public top-up (forge covers it); try another settlement.
        const { endsAt } = (await currentAttesterSelection(net.user.ctx, stackId))!;
        const head = await net.user.ctx.publicClient.getBlock();
        await net.advance(Number(endsAt - head.timestamp) + 1);
        continue;
      }
      const seats = await eventually(async () => {
        const logs = await seatsOf(stackId);
        return logs.length > 0 ? logs : undefined;
      }, "a selected replacement to seat on the posted leaf");
      for (const log of seats) {
        expect(selected).toContain(log.args.nodeId);
        expect(log.args.commitment).not.toBe(zeroHash);
      }
      const { endsAt } = (await currentAttesterSelection(net.user.ctx, stackId))!;
      const head = await net.user.ctx.publicClient.getBlock();
      await net.advance(Number(endsAt - head.timestamp) + 1);
      const joined = await eventually(async () => {
        const list = await getAttesters(net.user.ctx, stackId);
        return list.length === 3 ? list[2]! : undefined;
      }, "the replacement to join");
      expect(selected).toContain(joined.nodeId);
      expect(joined.committed).toBe(true);
      return;
    }
    throw new Error("four replacement windows in a row with nobody selected");
  }, 900_000);

  it("a server that withholds the leaf asked for gets no seat from the round, a public replacement, and is slashed in full", async () => {
    const { served, stackId, present, absent } = await toReplacementWindow();
    const { endsAt } = (await currentAttesterSelection(net.user.ctx, stackId))!;
    const head = await net.user.ctx.publicClient.getBlock();
    await net.advance(Number(endsAt - head.timestamp) + 1);
    // The nodes close the window: the data was withheld, so a public replacement is drawn on a later block.
    await net.advance(0);
    await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    await net.advance(0);
    await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    const replacement = await eventually(async () => {
      const list = await getAttesters(net.user.ctx, stackId);
      return list.length === 3 ? list[2]! : undefined;
    }, "the public replacement");
    expect([present, absent]).not.toContain(replacement.nodeId);
    expect(replacement.committed).toBe(false); // drawn in public, not seated from the round
    expect(await seatsOf(stackId)).toEqual([]);
    // The public replacement cannot fetch the transcript either and declares it; the server never posts.
    const declared = await eventually(async () => {
      const st = await settlementOf(stackId);
      return st.dataRequested ? st : undefined;
    }, "the public replacement to declare the transcript unavailable");
    const now = (await net.user.ctx.publicClient.getBlock()).timestamp;
    await net.advance(Number(declared.dataDeadline - now) + 1);
    await eventually(
      async () => ((await settlementOf(stackId)).phase === Phase.Failed ? true : undefined),
      "the settlement to fail verification",
    );
    const server = await net.deployment.contracts.nodeRegistry.read.getNode([served.server.nodeId]);
    expect(server.collateral).toBe(0n);
  }, 600_000);
});
