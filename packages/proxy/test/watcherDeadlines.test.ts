import {
  answerIndexChallenge,
  type ChainContext,
  ChallengeStatus,
  createTask,
  getChallenge,
  getNode,
  getSettlement,
  SettlementPhase,
  setNodeUrl,
  submitSettlement,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { challengeManagerAbi, TaskSecurityLevel } from "@atoma/contracts";
import { atomaDomain, leafHash, type StackLeaf, StackTree, signRequest } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../src/network/ownerChallengeBook.js";
import { StackPool } from "../src/network/stackPool.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const embedded = testDatabases()[0]!;
const MODEL = "tiny";
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
  let devnet: Devnet;
  let wallet: { account: LocalAccount; ctx: ChainContext };
  let nodes: DevNode[];
  let fakes: Awaited<ReturnType<typeof startFakeNode>>[];
  let catalog: NetworkCatalog;
  const made: { db: TestDatabaseConfig; opened: OpenedDatabase }[] = [];

  const database = async () => {
    const db = embedded.make();
    const entry = { db, opened: await openGatewayDatabase(db.config) };
    made.push(entry);
    return entry;
  };
  const poolOver = (opened: OpenedDatabase, journal?: JournalFlusher) =>
    new StackPool(
      { db: opened.db, chain: wallet.ctx, journal },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: 100_000n,
        durationSeconds: 86_400n,
        maxStacksPerModel: 2,
      },
    );
  const bookOf = (opened: OpenedDatabase) => new OwnerChallengeBook(opened.db);
  /** A stack the pool bought at the node, closed at once (no request made on it). */
  const closedStack = async (pool: StackPool, nodeId: bigint) => {
    const stack = await pool.lease(catalog.model(MODEL)!, 10n, [[nodeId]]);
    await pool.retire(stack, "test");
    await pool.closesDone();
    return stack.stackId;
  };
  /** A chain context whose transactions each take a block's time, as on a real chain. */
  const slowChain = (): ChainContext => ({
    ...wallet.ctx,
    walletClient: new Proxy(wallet.ctx.walletClient, {
      get(target, key, receiver) {
        if (key !== "writeContract") return Reflect.get(target, key, receiver);
        return async (request: unknown) => {
          await devnet.advance(BLOCK_SECONDS);
          return target.writeContract(request as never);
        };
      },
    }),
  });
  const openedOn = async (stackId: bigint) =>
    wallet.ctx.publicClient.getContractEvents({
      address: devnet.deployment.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId },
      fromBlock: 0n,
    });
  /** Three leaves whose requests the gateway signed (10-unit bounds), the excess in the first one's total. */
  const withheldRun = async (pool: StackPool, node: DevNode, stackId: bigint) => {
    const domain = atomaDomain(devnet.anvil.chainId, devnet.deployment.addresses.StackManager);
    const leaves: StackLeaf[] = [];
    const signatures: Hex[] = [];
    let total = 50_000n;
    for (let nonce = 0n; nonce < 3n; nonce++) {
      const reqHash = keccak256(stringToBytes(`withheld ${stackId} ${nonce}`));
      await pool.markSigned(stackId, nonce, 10n);
      signatures.push(
        await signRequest(wallet.account, domain, {
          stackId,
          reqHash,
          nonce,
          deadline: 2n ** 40n,
          maxUnits: 10n,
        }),
      );
      total += 10n;
      leaves.push({
        leafIndex: nonce,
        nonce,
        reqHash,
        respHash: keccak256(reqHash),
        units: 10n,
        cumulativeUnits: total,
      });
    }
    const tree = new StackTree(leaves.map(leafHash));
    await submitSettlement(node.signer, {
      stackId,
      root: tree.root,
      units: total,
      requestCount: 3n,
      transcriptId: `0x${"ce".repeat(32)}`,
    });
    const answer = (k: number, challengeId: bigint) =>
      answerIndexChallenge(node.signer, {
        challengeId,
        leaf: leaves[k]!,
        deadline: 2n ** 40n,
        maxUnits: 10n,
        ownerSignature: signatures[k]!,
        proof: tree.proof(k),
        previous: leaves[k - 1],
        previousProof: k > 0 ? tree.proof(k - 1) : [],
      });
    return { answer };
  };

  beforeAll(async () => {
    devnet = await startDevnet({ parameters: { settlement: { disputeWindow: BigInt(WINDOW) } } });
    const { modelId } = await devnet.registerModel({ name: MODEL });
    nodes = [await devnet.addNode(), await devnet.addNode(), await devnet.addNode(), await devnet.addNode()];
    fakes = await Promise.all(
      nodes.map((node) =>
        startFakeNode(
          node.signerAccount,
          node.nodeId,
          devnet.anvil.chainId,
          devnet.deployment.addresses.StackManager,
          () => ({ kind: "honest" }),
        ),
      ),
    );
    const { taskId } = await createTask(devnet.admin, {
      modelId,
      role: TaskRole.Chat,
      securityLevel: TaskSecurityLevel.None,
    });
    for (const [i, node] of nodes.entries()) {
      await setNodeUrl(node.operator, { nodeId: node.nodeId, url: fakes[i]!.url });
      await subscribe(node.signer, {
        taskId,
        nodeId: node.nodeId,
        pricePerMillion: parseEther("1"),
        capacity: 10n ** 12n,
      });
    }
    await devnet.advance(3_600);
    const funded = await devnet.account(parseEther("100"));
    wallet = { account: funded.account, ctx: funded.ctx };
    catalog = new NetworkCatalog(readContext({ ...devnet.rpc, contracts: devnet.deployment.addresses }), {
      modelNames: [MODEL],
      nodeTimeoutMs: 200,
      allowPrivateNodeUrls: true,
    });
    await catalog.refresh();
  }, 180_000);

  afterAll(async () => {
    for (const fake of fakes ?? []) await fake.stop();
    for (const { opened, db } of made) {
      await opened.close().catch(() => undefined);
      await db.dispose();
    }
    await devnet?.stop();
  });

  // LOW-2: the requests the gateway signed sit in its journal, not yet applied to the database, when the watcher
  // audits. It read them as never signed and challenged only the first (which the node answers with the
  // gateway's signature, taking the bond); the leaf holding the excess went unchallenged.
  it("audits with the signed requests its journal has not applied yet", async () => {
    const { opened } = await database();
    const journal = await JournalFlusher.open(opened.db);
    const pool = poolOver(opened, journal);
    const node = nodes[3]!;
    const stackId = await closedStack(pool, node.nodeId);
    await withheldRun(pool, node, stackId);
    await new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: wallet.ctx },
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
    const node = nodes[0]!;
    const honest: bigint[] = [];
    for (let i = 0; i < 12; i++) honest.push(await closedStack(pool, node.nodeId));
    const cheat = await closedStack(pool, node.nodeId);
    for (const stackId of honest)
      await submitSettlement(node.signer, {
        stackId,
        root: ZERO,
        units: 0n,
        requestCount: 0n,
        transcriptId: ZERO,
      });
    await devnet.advance(WINDOW + 1);
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
      expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Finalized);
    await devnet.advance(3_600);
    await watcher.pass();
    expect((await getSettlement(wallet.ctx, cheat)).phase).toBe(SettlementPhase.Failed);
    expect((await getNode(wallet.ctx, node.nodeId)).collateral).toBe(0n);
  }, 300_000);

  // MEDIUM-3: the batch of index challenges stays pending past the watcher's wait. The next pass finds the
  // settlement disputed and reads the logs (the batch not mined yet), then tries the leaves again: the batch is
  // mined first, and the retry reverts. The pass after that is refused `IndexAlreadyProven`: the
  // watcher took that as final and kept no challenge id, so the leaf the node could not answer was never resolved
  // and the settlement stayed disputed, its escrow and the node's collateral locked.
  it("resolves a challenge whose transaction outlived the watcher's wait", async () => {
    const { opened } = await database();
    const pool = poolOver(opened);
    const node = nodes[1]!;
    const stackId = await closedStack(pool, node.nodeId);
    const { answer } = await withheldRun(pool, node, stackId);
    let late: unknown;
    let landed = false;
    const chain: ChainContext = {
      ...wallet.ctx,
      walletClient: new Proxy(wallet.ctx.walletClient, {
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
    await devnet.advance(3_600);
    await watcher.pass();
    expect((await getChallenge(wallet.ctx, firstId!)).status).toBe(ChallengeStatus.Upheld);
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
    expect((await getNode(wallet.ctx, node.nodeId)).collateral).toBe(0n);
  }, 300_000);

  // MEDIUM-3, after a restart: the first challenge upheld failed the settlement; the gateway restarts (a new pool
  // and watcher over the same database file). The restarted watcher set the failed stack aside without looking,
  // so the other challenges, left unanswered, were never resolved (their bonds locked in the contract).
  it("resolves the other open challenges of a failed settlement after a restart", async () => {
    const { db, opened } = await database();
    const pool = poolOver(opened);
    const node = nodes[2]!;
    const stackId = await closedStack(pool, node.nodeId);
    await withheldRun(pool, node, stackId);
    await new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: wallet.ctx },
      { watchSeconds: 86_400n },
    ).pass();
    const ids = (await openedOn(stackId)).map((log) => log.args.challengeId!);
    expect(ids).toHaveLength(3);
    const first = await getChallenge(wallet.ctx, ids[0]!);
    const now = (await wallet.ctx.publicClient.getBlock()).timestamp;
    await devnet.advance(first.answerDeadline - now + 1n);
    const before = new OverclaimWatcher(
      { challenges: bookOf(opened), pool, chain: wallet.ctx },
      { watchSeconds: 86_400n },
    );
    await before.pass();
    expect((await getSettlement(wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
    const open = [];
    for (const id of ids)
      if ((await getChallenge(wallet.ctx, id)).status === ChallengeStatus.Open) open.push(id);
    expect(open.length).toBeGreaterThan(0);
    // The restart: the database closed and opened again, a new pool and watcher.
    await opened.close();
    const reopened = await openGatewayDatabase(db.config);
    made.push({ db, opened: reopened });
    await devnet.advance(3_600);
    await new OverclaimWatcher(
      { challenges: bookOf(reopened), pool: poolOver(reopened), chain: wallet.ctx },
      { watchSeconds: 86_400n },
    ).pass();
    for (const id of ids) expect((await getChallenge(wallet.ctx, id)).status).toBe(ChallengeStatus.Upheld);
  }, 300_000);
});
