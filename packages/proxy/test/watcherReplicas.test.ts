import {
  answerIndexChallenge,
  type ChainContext,
  ChallengeStatus,
  createTask,
  getChallenge,
  setNodeUrl,
  submitSettlement,
  subscribe,
  TaskRole,
} from "@atoma/chain";
import { type DevNode, type Devnet, startDevnet } from "@atoma/chain/devnet";
import { challengeManagerAbi, TaskSecurityLevel } from "@atoma/contracts";
import { atomaDomain, leafHash, type StackLeaf, StackTree, signRequest, signResponse } from "@atoma/core";
import { readContext } from "@atoma/sdk";
import pg from "pg";
import { type Hex, keccak256, type LocalAccount, parseEther, stringToBytes } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { NetworkCatalog } from "../src/network/networkCatalog.js";
import { OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../src/network/ownerChallengeBook.js";
import { StackPool } from "../src/network/stackPool.js";
import { startFakeNode } from "./helpers/fakeNode.js";
import { databaseUrl, type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const postgres = testDatabases()[1]!;
const MODEL = "tiny";

/** Review rev3 W3-1, W3-4: gateways sharing one PostgreSQL database (and wallet) each run the watcher. */
describe.skipIf(postgres.skip)("the overclaim watcher on gateways sharing a database", () => {
  let devnet: Devnet;
  let wallet: { account: LocalAccount; ctx: ChainContext };
  let nodes: DevNode[];
  let fakes: Awaited<ReturnType<typeof startFakeNode>>[];
  let catalog: NetworkCatalog;
  const made: TestDatabaseConfig[] = [];
  const opened: OpenedDatabase[] = [];

  /** Two gateways' databases: one schema, two connections. */
  const shared = async () => {
    const db = postgres.make();
    made.push(db);
    const a = await openGatewayDatabase(db.config);
    const b = await openGatewayDatabase(db.config);
    opened.push(a, b);
    return [a, b] as const;
  };
  const poolOver = (one: OpenedDatabase) =>
    new StackPool(
      { db: one.db, chain: wallet.ctx, sharedWallet: true },
      {
        maxPricePerMillion: parseEther("3"),
        unitsPerStack: 100_000n,
        durationSeconds: 86_400n,
        maxStacksPerModel: 2,
      },
    );
  const watcherOver = (one: OpenedDatabase, chain: ChainContext) =>
    new OverclaimWatcher(
      { pool: poolOver(one), chain, challenges: new OwnerChallengeBook(one.db) },
      { watchSeconds: 86_400n },
    );
  const openedOn = async (stackId: bigint) =>
    wallet.ctx.publicClient.getContractEvents({
      address: devnet.deployment.addresses.ChallengeManager,
      abi: challengeManagerAbi,
      eventName: "ChallengeOpened",
      args: { stackId },
      fromBlock: 0n,
    });

  /**
   * A stack whose leaf 0 the gateway holds the node's receipt for (10 units) and whose leaves 1 and 2 it signed
   * (10-unit bounds, no receipt); the node settles 50,000 units more: a receipt challenge on leaf 0 and index
   * challenges on leaves 1 and 2 are wanted.
   */
  const overClaimed = async (one: OpenedDatabase, node: DevNode) => {
    const pool = poolOver(one);
    const stack = await pool.lease(catalog.model(MODEL)!, 10n, [[node.nodeId]]);
    await pool.retire(stack, "test");
    await pool.closesDone();
    const { stackId } = stack;
    const domain = atomaDomain(devnet.anvil.chainId, devnet.deployment.addresses.StackManager);
    const leaves: StackLeaf[] = [];
    const signatures: Hex[] = [];
    let total = 0n;
    for (let nonce = 0n; nonce < 3n; nonce++) {
      const reqHash = keccak256(stringToBytes(`replicas ${stackId} ${nonce}`));
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
      total += nonce === 1n ? 50_010n : 10n;
      leaves.push({
        leafIndex: nonce,
        nonce,
        reqHash,
        respHash: keccak256(reqHash),
        units: nonce === 1n ? 50_010n : 10n,
        cumulativeUnits: total,
      });
    }
    const fields = { ...leaves[0]!, stackId, seed: 0n };
    await pool.keepReceipt({
      fields,
      signature: await signResponse(node.signerAccount, domain, fields),
      result: "0x",
    });
    const tree = new StackTree(leaves.map(leafHash));
    await submitSettlement(node.signer, {
      stackId,
      root: tree.root,
      units: total,
      requestCount: 3n,
      transcriptId: `0x${"be".repeat(32)}`,
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
    return { stackId, answer };
  };

  beforeAll(async () => {
    devnet = await startDevnet({ parameters: { settlement: { disputeWindow: 600n } } });
    const { modelId } = await devnet.registerModel({ name: MODEL });
    nodes = [await devnet.addNode(), await devnet.addNode()];
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
    for (const one of opened) await one.close().catch(() => undefined);
    for (const db of made) await db.dispose();
    await devnet?.stop();
  });

  // W3-1: replica A read the settlement and the challenges the database held (none), then replica B ran its whole
  // pass and challenged; A went on and sent the same receipt challenge: a second bond on leaf 0, never followed.
  it("opens one receipt challenge on a leaf when two gateways' watchers race to it", async () => {
    const [a, b] = await shared();
    const { stackId } = await overClaimed(a, nodes[0]!);
    const other = watcherOver(b, wallet.ctx);
    let raced = false;
    const racing: ChainContext = {
      ...wallet.ctx,
      publicClient: new Proxy(wallet.ctx.publicClient, {
        get(target, key, receiver) {
          if (key === "readContract")
            return async (request: { functionName: string }) => {
              const read = await target.readContract(request as never);
              // The bond read: A's audit saw no challenge made; B runs its whole pass before A claims and sends
              // (review R4-3: A now claims under the wallet's lock, which B's pass takes too).
              if (request.functionName === "params" && !raced) {
                raced = true;
                await other.pass();
              }
              return read;
            };
          return Reflect.get(target, key, receiver);
        },
      }),
    };
    await watcherOver(a, racing).pass();
    expect(raced).toBe(true);
    const logs = await openedOn(stackId);
    const receipts = logs.filter((log) => log.args.leafIndex === 0n);
    expect(logs.map((log) => log.args.leafIndex).sort()).toEqual([0n, 1n, 2n]);
    expect(receipts).toHaveLength(1);
    const rows = await a.db
      .selectFrom("owner_challenges")
      .select("state")
      .where("stack_id", "=", stackId)
      .execute();
    expect(rows.map((row) => row.state)).toEqual(["open", "open", "open"]);
  }, 300_000);

  // R4-3: a gateway claimed its challenge's row before taking the shared wallet's lock. While another gateway's
  // transaction held the lock, the blocks a receipt challenge waits for passed; that gateway, the wallet idle, found
  // the claimed row sent with no log, marked it failed, claimed it again and sent it; the first sent it too once it
  // got the lock: two bonds on one leaf. Claims are now taken under the lock, and rows judged failed there too.
  it("never sends a receipt challenge twice while one gateway waits for the wallet's lock", async () => {
    const [a, b] = await shared();
    const { stackId } = await overClaimed(a, nodes[1]!);
    // Another gateway's long transaction: the wallet's advisory lock, held from outside.
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    const lock = `atoma-wallet:${wallet.account.address.toLowerCase()}`;
    await holder.query("select pg_advisory_lock(hashtextextended($1, 0))", [lock]);
    let first: Promise<void> | undefined;
    let second: Promise<void> | undefined;
    try {
      first = watcherOver(a, wallet.ctx).pass();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await fetch(devnet.rpc.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_mine", params: ["0x50"] }),
      });
      second = watcherOver(b, wallet.ctx).pass();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
    } finally {
      await holder.query("select pg_advisory_unlock(hashtextextended($1, 0))", [lock]);
      await holder.end();
    }
    await Promise.allSettled([first, second]);
    const receipts = (await openedOn(stackId)).filter((log) => log.args.leafIndex === 0n);
    expect(receipts).toHaveLength(1);
    expect((await openedOn(stackId)).map((log) => log.args.leafIndex).sort()).toEqual([0n, 1n, 2n]);
  }, 300_000);

  // W3-4: the node answered an index challenge; the check of the leaf its answer revealed failed once (here the
  // RPC's log read). The challenge was marked closed before the check, so it was never checked again.
  it("checks a dismissed index challenge's answer again after the check failed", async () => {
    const [a] = await shared();
    const node = nodes[1]!;
    const { stackId, answer } = await overClaimed(a, node);
    await watcherOver(a, wallet.ctx).pass();
    const index = (await openedOn(stackId)).find((log) => log.args.leafIndex === 2n)!.args.challengeId!;
    await answer(2, index);
    expect((await getChallenge(wallet.ctx, index)).status).toBe(ChallengeStatus.Dismissed);
    let failing = true;
    let reads = 0;
    const flaky: ChainContext = {
      ...wallet.ctx,
      publicClient: new Proxy(wallet.ctx.publicClient, {
        get(target, key, receiver) {
          if (key !== "getContractEvents") return Reflect.get(target, key, receiver);
          return async (request: { eventName: string }) => {
            if (request.eventName === "ChallengeResolved") {
              reads += 1;
              if (failing) throw new Error("the RPC refused the log read");
            }
            return target.getContractEvents(request as never);
          };
        },
      }),
    };
    const stateOf = async () =>
      (
        await a.db
          .selectFrom("owner_challenges")
          .select("state")
          .where("challenge_id", "=", index)
          .executeTakeFirstOrThrow()
      ).state;
    await watcherOver(a, flaky).pass();
    expect(reads).toBe(1);
    expect(await stateOf()).toBe("open");
    failing = false;
    await watcherOver(a, flaky).pass();
    expect(reads).toBe(2);
    expect(await stateOf()).toBe("closed");
  }, 300_000);

  // W3-2: the row of an index challenge the wallet opened was lost (a database restored from before it). Sending it
  // again is refused as made; the logs read from that refusal's block cannot show it, so the row went back to
  // failed and the watcher sent it again at every pass, never settling the stack's audit.
  it("refuses for good an index challenged already whose challenge the logs cannot show", async () => {
    const [a] = await shared();
    const { stackId } = await overClaimed(a, nodes[0]!);
    await watcherOver(a, wallet.ctx).pass();
    expect((await openedOn(stackId)).map((log) => log.args.leafIndex).sort()).toEqual([0n, 1n, 2n]);
    await a.db
      .deleteFrom("owner_challenges")
      .where("stack_id", "=", stackId)
      .where("kind", "=", "index")
      .where("leaf_index", "=", 2n)
      .execute();
    await watcherOver(a, wallet.ctx).pass();
    const row = await a.db
      .selectFrom("owner_challenges")
      .select("state")
      .where("stack_id", "=", stackId)
      .where("kind", "=", "index")
      .where("leaf_index", "=", 2n)
      .executeTakeFirstOrThrow();
    expect(row.state).toBe("refused");
    expect(await openedOn(stackId)).toHaveLength(3);
  }, 300_000);

  // W3-5: a challenge sent whose id stays unknown had the logs read from the block it was first sent at at every
  // pass: the whole window again each 5 s on an RPC that rate-limits.
  it("reads the logs of a challenge sent only from where the last pass left off", async () => {
    const [a] = await shared();
    const book = new OwnerChallengeBook(a.db);
    const sentBlock = await wallet.ctx.publicClient.getBlockNumber();
    // A receipt challenge whose transaction never landed (waits `RECEIPT_PENDING_BLOCKS` before it is sent again).
    await book.sending(
      { stackId: 987_654n, nodeId: nodes[0]!.nodeId },
      [{ kind: "receipt", leafIndex: 0n }],
      sentBlock,
    );
    const starts: bigint[] = [];
    const counting: ChainContext = {
      ...wallet.ctx,
      publicClient: new Proxy(wallet.ctx.publicClient, {
        get(target, key, receiver) {
          if (key !== "getContractEvents") return Reflect.get(target, key, receiver);
          return async (request: { eventName: string; fromBlock: bigint }) => {
            if (request.eventName === "ChallengeOpened") starts.push(request.fromBlock);
            return target.getContractEvents(request as never);
          };
        },
      }),
    };
    const mine = (blocks: number) =>
      fetch(devnet.rpc.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "anvil_mine",
          params: [`0x${blocks.toString(16)}`],
        }),
      });
    await mine(40);
    const watcher = watcherOver(a, counting);
    await watcher.pass();
    expect(starts).toEqual([sentBlock]);
    const head = await wallet.ctx.publicClient.getBlockNumber();
    await mine(5);
    await watcher.pass();
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeGreaterThan(sentBlock);
    expect(starts[1]).toBeGreaterThanOrEqual(head - 16n);
    expect(await book.unknown()).toHaveLength(1);
  }, 300_000);
});
