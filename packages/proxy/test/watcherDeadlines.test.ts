import {
  type ChainContext,
  ChallengeStatus,
  getChallenge,
  getNode,
  getSettlement,
  SettlementPhase,
  submitSettlement,
} from "@atoma/chain";
import { leafHash, type StackLeaf, StackTree } from "@atoma/core";
import { keccak256, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../src/network/ownerChallengeBook.js";
import type { StackPool } from "../src/network/stackPool.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import {
  challengesOpenedOn,
  closedStack,
  settleOverclaim,
  startWatcherNetwork,
  type WatcherNetwork,
  WITHHELD_EXCESS,
  watcherPool,
} from "./helpers/watcherNetwork.js";

const embedded = testDatabases()[0]!;
/** The settlements' challenge window (seconds): short, so a few mined transactions outlast it. */
const WINDOW = 120;
/** What one mined transaction costs in time on a chain with 12-second blocks (anvil mines at once). */
const BLOCK_SECONDS = 12;
const ZERO = `0x${"0".repeat(64)}` as const;

/**
 * Review challenges MEDIUM-1 and MEDIUM-3: the watcher's timing against a node that stalls it, and its
 * bookkeeping of its own challenges across a transaction that outlived its wait and across a restart.
 */
describe("the overclaim watcher's deadlines", () => {
  let net: WatcherNetwork;
  const made: { db: TestDatabaseConfig; opened: OpenedDatabase }[] = [];

  const database = async () => {
    const db = embedded.make();
    const entry = { db, opened: await openGatewayDatabase(db.config) };
    made.push(entry);
    return entry;
  };
  const poolOver = (opened: OpenedDatabase, journal?: JournalFlusher) =>
    watcherPool(net, opened, journal ? { journal } : {});
  const bookOf = (opened: OpenedDatabase) => new OwnerChallengeBook(opened.db);
  /** A chain context whose transactions each take a block's time, as on a real chain. */
  const slowChain = (): ChainContext => ({
    ...net.wallet.ctx,
    walletClient: new Proxy(net.wallet.ctx.walletClient, {
      get(target, key, receiver) {
        if (key !== "writeContract") return Reflect.get(target, key, receiver);
        return async (request: unknown) => {
          await net.devnet.advance(BLOCK_SECONDS);
          return target.writeContract(request as never);
        };
      },
    }),
  });
  const openedOn = (stackId: bigint) => challengesOpenedOn(net, stackId);
  /** Three leaves whose requests the gateway signed (10-unit bounds), the excess in the first one's total. */
  const withheldRun = (pool: StackPool, node: WatcherNetwork["nodes"][number], stackId: bigint) =>
    settleOverclaim(net, pool, node, stackId, WITHHELD_EXCESS);

  beforeAll(async () => {
    net = await startWatcherNetwork({ disputeWindow: BigInt(WINDOW), nodes: 4 });
  }, 180_000);

  afterAll(async () => {
    for (const { opened, db } of made) {
      await opened.close().catch(() => undefined);
      await db.dispose();
    }
    await net?.stop();
  });

  // LOW-2: the requests the gateway signed sit in its journal, not yet applied to the database, when the watcher
  // audits. It read them as never signed and challenged only the first (which the node answers with the
  // gateway's signature, taking the bond); the leaf holding the excess went unchallenged.
  it("audits with the signed requests its journal has not applied yet", async () => {
    const { opened } = await database();
    const journal = await JournalFlusher.open(opened.db);
    const pool = poolOver(opened, journal);
    const node = net.nodes[3]!;
    const stackId = await closedStack(net, pool, node.nodeId);
    await withheldRun(pool, node, stackId);
    await new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: net.wallet.ctx },
      { watchSeconds: 86_400n },
    ).pass();
    expect((await openedOn(stackId)).map((log) => log.args.leafIndex)).toEqual([2n, 0n, 1n]);
    await journal.stop();
  }, 300_000);

  // MEDIUM-1: the node settles 12 stacks honestly and leaves them unpaid, then over-claims on a later stack as
  // their windows end. A pass that finalized each due stack in its own mined transaction, in stack order, reached
  // the over-claim after its window (12 × 12 s > 120 s): nothing was challenged and it was paid out.
  it("audits a fresh over-claim before paying out the stacks a node left unfinalized ahead of it", async () => {
    const { opened } = await database();
    const pool = poolOver(opened);
    const node = net.nodes[0]!;
    const honest: bigint[] = [];
    for (let i = 0; i < 12; i++) honest.push(await closedStack(net, pool, node.nodeId));
    const cheat = await closedStack(net, pool, node.nodeId);
    for (const stackId of honest)
      await submitSettlement(node.signer, {
        stackId,
        root: ZERO,
        units: 0n,
        requestCount: 0n,
        transcriptId: ZERO,
      });
    await net.devnet.advance(WINDOW + 1);
    // A leaf the gateway never signed, billed at 90,000 units.
    const leaf: StackLeaf = {
      leafIndex: 0n,
      nonce: 0n,
      reqHash: keccak256(stringToBytes("never signed")),
      respHash: keccak256(stringToBytes("never served")),
      units: 90_000n,
      cumulativeUnits: 90_000n,
    };
    await submitSettlement(node.signer, {
      stackId: cheat,
      root: new StackTree([leafHash(leaf)]).root,
      units: 90_000n,
      requestCount: 1n,
      transcriptId: ZERO,
    });
    const watcher = new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: slowChain() },
      { watchSeconds: 86_400n },
    );
    await watcher.pass();
    expect((await openedOn(cheat)).map((log) => log.args.leafIndex)).toEqual([0n]);
    for (const stackId of honest)
      expect((await getSettlement(net.wallet.ctx, stackId)).phase).toBe(SettlementPhase.Finalized);
    await net.devnet.advance(3_600);
    await watcher.pass();
    expect((await getSettlement(net.wallet.ctx, cheat)).phase).toBe(SettlementPhase.Failed);
    expect((await getNode(net.wallet.ctx, node.nodeId)).collateral).toBe(0n);
  }, 300_000);

  // MEDIUM-3: the batch of index challenges stays pending past the watcher's wait. The next pass finds the
  // settlement disputed and reads the logs (the batch not mined yet), then tries the leaves again: the batch is
  // mined first, and the retry reverts. The pass after that is refused `IndexAlreadyProven`: the
  // watcher took that as final and kept no challenge id, so the leaf the node could not answer was never resolved
  // and the settlement stayed disputed, its escrow and the node's collateral locked.
  it("resolves a challenge whose transaction outlived the watcher's wait", async () => {
    const { opened } = await database();
    const pool = poolOver(opened);
    const node = net.nodes[1]!;
    const stackId = await closedStack(net, pool, node.nodeId);
    const { answer } = await withheldRun(pool, node, stackId);
    let late: unknown;
    let landed = false;
    const chain: ChainContext = {
      ...net.wallet.ctx,
      walletClient: new Proxy(net.wallet.ctx.walletClient, {
        get(target, key, receiver) {
          if (key !== "writeContract") return Reflect.get(target, key, receiver);
          return async (request: { functionName: string }) => {
            if (request.functionName === "challengeIndices" && late === undefined) {
              // Still pending when the wait gives up: it is mined later, just before the watcher's next try.
              late = request;
              throw new Error("timed out waiting for the transaction");
            }
            if (late !== undefined && !landed) {
              landed = true;
              await target.writeContract(late as never);
            }
            return target.writeContract(request as never);
          };
        },
      }),
    };
    const watcher = new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain },
      { watchSeconds: 86_400n },
    );
    for (let i = 0; i < 3; i++) await watcher.pass();
    expect(landed).toBe(true);
    const logs = await openedOn(stackId);
    expect(logs.map((log) => log.args.leafIndex)).toEqual([2n, 0n, 1n]);
    const [lastId, firstId, secondId] = logs.map((log) => log.args.challengeId!);
    // The node proves the last two leaves; the first, whose total jumps, it cannot.
    await answer(2, lastId!);
    await answer(1, secondId!);
    await expect(answer(0, firstId!)).rejects.toMatchObject({ errorName: "RunningTotalBroken" });
    await net.devnet.advance(3_600);
    await watcher.pass();
    expect((await getChallenge(net.wallet.ctx, firstId!)).status).toBe(ChallengeStatus.Upheld);
    expect((await getSettlement(net.wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
    expect((await getNode(net.wallet.ctx, node.nodeId)).collateral).toBe(0n);
  }, 300_000);

  // MEDIUM-3, after a restart: the first challenge upheld failed the settlement; the gateway restarts (a new pool
  // and watcher over the same database file). The restarted watcher set the failed stack aside without looking,
  // so the other challenges, left unanswered, were never resolved (their bonds locked in the contract).
  it("resolves the other open challenges of a failed settlement after a restart", async () => {
    const { db, opened } = await database();
    const pool = poolOver(opened);
    const node = net.nodes[2]!;
    const stackId = await closedStack(net, pool, node.nodeId);
    await withheldRun(pool, node, stackId);
    await new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: net.wallet.ctx },
      { watchSeconds: 86_400n },
    ).pass();
    const ids = (await openedOn(stackId)).map((log) => log.args.challengeId!);
    expect(ids).toHaveLength(3);
    const first = await getChallenge(net.wallet.ctx, ids[0]!);
    const now = (await net.wallet.ctx.publicClient.getBlock()).timestamp;
    await net.devnet.advance(first.answerDeadline - now + 1n);
    const before = new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: net.wallet.ctx },
      { watchSeconds: 86_400n },
    );
    await before.pass();
    expect((await getSettlement(net.wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
    const open = [];
    for (const id of ids)
      if ((await getChallenge(net.wallet.ctx, id)).status === ChallengeStatus.Open) open.push(id);
    expect(open.length).toBeGreaterThan(0);
    // The restart: the database closed and opened again, a new pool and watcher.
    await opened.close();
    const reopened = await openGatewayDatabase(db.config);
    made.push({ db, opened: reopened });
    await net.devnet.advance(3_600);
    await new OverclaimWatcher(
      { challenges: bookOf(reopened), pool: poolOver(reopened), chain: net.wallet.ctx },
      { watchSeconds: 86_400n },
    ).pass();
    for (const id of ids)
      expect((await getChallenge(net.wallet.ctx, id)).status).toBe(ChallengeStatus.Upheld);
  }, 300_000);
});
