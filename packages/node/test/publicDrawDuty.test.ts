import {
  attesterCandidatesOf,
  drawAttesters,
  evaluateSelection,
  getAttesterSelection,
  getAttesters,
  getSettlement,
  hasAnsweredSelection,
  nodeRegistryAbi,
  settlementDrawAbi,
  settlementManagerAbi,
  timeoutAttesters,
} from "@atoma/chain";
import { createTestClient, http } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeVrfKey } from "../src/attestation/vrfKey.js";
import { type AttestNetwork, eventually, startAttestNetwork } from "./harness/attestNetwork.js";
import { revealOnly, type ServedStack, serveAndSettle } from "./harness/servingNode.js";
import { StrategyBoard, silentStrategy } from "./harness/strategies.js";

/** The shortest window the contract takes (`MIN_SELECTION_WINDOW`). */
const WINDOW = 60;
const Phase = { Drawing: 8, Commit: 1, Reveal: 2, Failed: 6 } as const;
const FAIL_DATA_WITHHELD = 2;
/** Long enough for every node's worker (250 ms polls) to step the duty it holds after a block. */
const SETTLE_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A public draw that follows a private selection window names nodes whose duty for the settlement the window left
 * in some state of its own: still pending (a withheld transcript: nothing to recompute), or committed to a
 * `selfSelect` a lower output pushed out of the seats. The node must act on the draw whatever that state: commit, or
 * declare the transcript unavailable, and never be timed out for a draw it was not watching (review of issue 16,
 * H-1). Real nodes on anvil, with the cap at one seat so a second selected node is pushed out.
 */
describe("a public draw after a private window revives the named nodes' duties", () => {
  let net: AttestNetwork;
  let test: ReturnType<typeof createTestClient>;
  const board = new StrategyBoard();

  beforeAll(async () => {
    // 5 nodes: 4 candidates per settlement, N = 2, one seat (the first test's server is slashed and leaves: 3
    // candidates for the second's, q = 2/3).
    net = await startAttestNetwork({
      nodes: 5,
      sampleSize: 1,
      attesters: 2,
      privateSelection: { window: WINDOW, cap: 1 },
      strategyOf: (id) => board.strategyFor(id),
    });
    test = createTestClient({ mode: "anvil", transport: http(net.anvil.rpcUrl) });
  }, 300_000);
  afterAll(() => net?.stop(), 60_000);

  const settlementOf = (stackId: bigint) => getSettlement(net.user.ctx, stackId);
  const rowOf = (nodeId: bigint, stackId: bigint) =>
    net
      .byId(nodeId)
      .node.context.db.selectFrom("attestation_tasks")
      .selectAll()
      .where("stack_id", "=", stackId)
      .where("kind", "=", "attest")
      .executeTakeFirst();
  const slashedSince = async (fromBlock: bigint) => {
    const logs = await net.user.ctx.publicClient.getContractEvents({
      address: net.deployment.addresses.NodeRegistry,
      abi: nodeRegistryAbi,
      eventName: "NodeSlashed",
      fromBlock,
      strict: true,
    });
    return logs.map((l) => ({ nodeId: l.args.nodeId, fraud: l.args.fraud }));
  };
  const timedOutOn = async (stackId: bigint, fromBlock: bigint) =>
    (
      await net.user.ctx.publicClient.getContractEvents({
        address: net.deployment.addresses.SettlementManager,
        abi: settlementManagerAbi,
        eventName: "AttesterTimedOut",
        args: { stackId },
        fromBlock,
        strict: true,
      })
    ).map((l) => l.args.nodeId);
  /** An honest server's settlement whose attesters all committed is revealed, so it ends before its deadlines. */
  const revealWhenCommitted = async (served: ServedStack) => {
    await eventually(
      async () => ((await settlementOf(served.stackId)).phase === Phase.Reveal ? true : undefined),
      "every attester to commit",
    );
    const indices = await net.deployment.contracts.settlementManager.read.sampledIndices([served.stackId]);
    await revealOnly(served, [...indices]);
  };
  /** The public draw: the seed block is a later one, so mine past it, then draw (as a keeper would). */
  const publicDraw = async (stackId: bigint) => {
    await test.mine({ blocks: 2 });
    // A node holding a committed duty may draw first (it keeps the settlement moving): either draw is as good.
    await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    return eventually(async () => {
      const list = await getAttesters(net.user.ctx, stackId);
      return list.length > 0 ? list.map((a) => a.nodeId) : undefined;
    }, "the public draw");
  };

  it("a server that withholds the transcript and closes the window in its first block past the end gets its public attesters declared, not slashed, and is slashed itself", async () => {
    const fromBlock = await net.user.ctx.publicClient.getBlockNumber();
    const served = await serveAndSettle(net, 2, { engine: net.engine, withholdTranscript: true });
    const { stackId } = served;
    const candidates = await attesterCandidatesOf(net.user.ctx, stackId);
    // Every candidate fails to fetch and one asks for the sampled requests; the server never posts them.
    await eventually(
      async () => ((await getAttesterSelection(net.user.ctx, stackId)).dataDeadline > 0n ? true : undefined),
      "a candidate to ask for the sampled requests",
    );
    await eventually(async () => {
      for (const id of candidates) if ((await rowOf(id, stackId))?.state !== "pending") return undefined;
      return true;
    }, "every candidate to hold its pending duty");
    await sleep(SETTLE_MS);
    // The server closes the window itself, in the first block whose timestamp is past its end: the nodes never see
    // a block past the end with the window still open.
    const { endsAt } = await getAttesterSelection(net.user.ctx, stackId);
    await test.setNextBlockTimestamp({ timestamp: endsAt + 1n });
    const closed = await drawAttesters(served.server.signer, { stackId });
    expect(closed.outcome).toBe("fallback");
    // The nodes step in the close block (a keeper's public draw comes blocks later).
    await sleep(SETTLE_MS);
    const named = await publicDraw(stackId);
    expect(named).toHaveLength(2);
    for (const id of named) expect(candidates).toContain(id);
    // Each named node tries the transcript, cannot fetch it, and declares: the server must post or lose it all.
    await eventually(
      async () => {
        const list = await getAttesters(net.user.ctx, stackId);
        return list.every((a) => a.declared) ? true : undefined;
      },
      "the named attesters to declare the transcript unavailable",
      30_000,
    ).catch(() => undefined);
    const st = await settlementOf(stackId);
    // Past every deadline: the nodes fail the withholding server (or, had nobody declared, anyone times them out).
    const head = await net.user.ctx.publicClient.getBlock();
    const past = (st.dataRequested ? st.dataDeadline : st.deadline) - head.timestamp + 1n;
    await net.advance(Number(past > 0n ? past : 1n));
    await eventually(
      async () => ((await settlementOf(stackId)).phase === Phase.Failed ? true : undefined),
      "the nodes to fail the withholding server",
      30_000,
    ).catch(() => undefined);
    if ((await settlementOf(stackId)).phase === Phase.Commit)
      await timeoutAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    const timedOut = await timedOutOn(stackId, fromBlock);
    const slashed = await slashedSince(fromBlock);
    expect(timedOut, "honest public attesters timed out").toEqual([]);
    for (const id of named) expect(slashed.map((s) => s.nodeId)).not.toContain(id);
    expect((await settlementOf(stackId)).phase).toBe(Phase.Failed);
    const [failed] = await net.user.ctx.publicClient.getContractEvents({
      address: net.deployment.addresses.SettlementManager,
      abi: settlementManagerAbi,
      eventName: "SettlementFailed",
      args: { stackId },
      fromBlock,
      strict: true,
    });
    expect(failed?.args.reason).toBe(FAIL_DATA_WITHHELD);
    expect(slashed).toContainEqual({ nodeId: served.server.nodeId, fraud: true });
  }, 300_000);

  /**
   * A settlement whose round-0 window (one seat) every selected node answered, closed and topped up publicly, with who
   * sat, who was pushed out (none when fewer than two were selected) and who the top-up named; the board is closed
   * from the close on (the drawn wait until the test opens it).
   */
  const pushedOutSettlement = async () => {
    board.reset();
    const registry = net.deployment.addresses.VrfKeyRegistry!;
    const fromBlock = await net.user.ctx.publicClient.getBlockNumber();
    const served = await serveAndSettle(net, 2, { engine: net.engine });
    const { stackId } = served;
    const candidates = await attesterCandidatesOf(net.user.ctx, stackId);
    const selection = await getAttesterSelection(net.user.ctx, stackId);
    const selected: bigint[] = [];
    for (const id of candidates) {
      const key = await nodeVrfKey(net.byId(id).signerAccount, {
        chainId: net.anvil.chainId,
        vrfKeyRegistry: registry,
      });
      if (evaluateSelection(key, selection).selected) selected.push(id);
    }
    await eventually(async () => {
      for (const id of selected)
        if (!(await hasAnsweredSelection(net.user.ctx, stackId, id))) return undefined;
      return true;
    }, "the selected to prove their selection");
    await sleep(SETTLE_MS);
    board.open = false;
    const unseatedLogs = await net.user.ctx.publicClient.getContractEvents({
      address: net.deployment.addresses.SettlementDraw,
      abi: settlementDrawAbi,
      eventName: "AttesterUnseated",
      args: { stackId },
      fromBlock,
      strict: true,
    });
    const seated = (await getAttesterSelection(net.user.ctx, stackId)).nodeIds;
    const unseated = unseatedLogs.map((l) => l.args.nodeId).filter((id) => !seated.includes(id));
    await net.advance(WINDOW + 1);
    await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
    for (const id of unseated) expect((await rowOf(id, stackId))?.state).toBe("committed");
    await sleep(SETTLE_MS);
    const named = await publicDraw(stackId);
    return { served, fromBlock, selected, seated, unseated, named };
  };

  it("a self-selected node a lower output pushed out of the one seat commits when the public top-up names it", async () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const { served, fromBlock, unseated, named } = await pushedOutSettlement();
      const { stackId } = served;
      board.open = true;
      const revived = named.find((id) => unseated.includes(id));
      if (revived === undefined) {
        // The top-up drew another node: this settlement ends honestly (before any deadline), and another is tried.
        await revealWhenCommitted(served);
        continue;
      }
      await eventually(
        async () => {
          const list = await getAttesters(net.user.ctx, stackId);
          return list.find((a) => a.nodeId === revived)?.committed ? true : undefined;
        },
        `pushed-out node ${revived} to commit`,
        30_000,
      ).catch(() => undefined);
      const st = await settlementOf(stackId);
      const head = await net.user.ctx.publicClient.getBlock();
      if (st.phase === Phase.Commit) {
        await net.advance(Number(st.deadline - head.timestamp + 1n));
        await timeoutAttesters(net.user.ctx, { stackId }).catch(() => undefined);
      }
      expect(await timedOutOn(stackId, fromBlock), "a pushed-out node named by the top-up timed out").toEqual(
        [],
      );
      const mine = (await getAttesters(net.user.ctx, stackId)).find((a) => a.nodeId === revived);
      expect(mine?.committed).toBe(true);
      // Revealed, so this settlement's deadlines slash nobody during the next test.
      await revealWhenCommitted(served);
      return;
    }
    throw new Error("no top-up named a pushed-out node in twelve settlements");
  }, 600_000);

  it("a node pushed out of round 0's one seat and not drawn by its top-up selects itself in the replacement round's window", async () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const { served, unseated, named, seated } = await pushedOutSettlement();
      const { stackId } = served;
      const drawn = named.find((id) => !seated.includes(id));
      if (unseated.length === 0 || drawn === undefined || unseated.some((id) => named.includes(id))) {
        board.open = true;
        await revealWhenCommitted(served);
        continue;
      }
      // The drawn public attester stays silent and is timed out: a replacement round's private window opens.
      board.assign(drawn, silentStrategy);
      board.open = true;
      const { deadline } = await settlementOf(stackId);
      const head = await net.user.ctx.publicClient.getBlock();
      await net.advance(Number(deadline - head.timestamp) + 1);
      await eventually(
        async () => ((await settlementOf(stackId)).phase === Phase.Drawing ? true : undefined),
        "the silent attester to be timed out",
      );
      // The window's seed is a later block's hash: mine past it, then open it (as any keeper would).
      await test.mine({ blocks: 2 });
      await drawAttesters(net.user.ctx, { stackId }).catch(() => undefined);
      const round = await eventually(async () => {
        const armed = await net.deployment.contracts.settlementDraw.read.armedOf([stackId]);
        const sel = await net.deployment.contracts.settlementDraw.read.roundSelectionOf([
          stackId,
          armed.round,
        ]);
        return armed.round >= 2 && sel.endsAt > 0n ? armed.round : undefined;
      }, "the replacement round's window to open");
      // Every pushed-out node is a candidate of it: it leaves its old committed duty and answers, or forgets it.
      for (const id of unseated)
        await eventually(
          async () => {
            if (await hasAnsweredSelection(net.user.ctx, stackId, id, round)) return true;
            const row = await rowOf(id, stackId);
            return row === undefined || row.state === "pending" ? true : undefined;
          },
          `pushed-out node ${id} to take part in round ${round}`,
          20_000,
        );
      return;
    }
    throw new Error("no settlement in twelve left a pushed-out node undrawn by its top-up");
  }, 600_000);
});
