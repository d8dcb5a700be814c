import { type ChainContext, ChallengeStatus, getChallenge } from "@atoma/chain";
import type { DevNode } from "@atoma/chain/devnet";
import { signResponse } from "@atoma/core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { OverclaimWatcher } from "../src/network/overclaimWatcher.js";
import { OwnerChallengeBook } from "../src/network/ownerChallengeBook.js";
import { databaseUrl, type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";
import {
  challengesOpenedOn,
  closedStack,
  settleOverclaim,
  startWatcherNetwork,
  type WatcherNetwork,
  watcherPool,
} from "./helpers/watcherNetwork.js";

const postgres = testDatabases()[1]!;

/** Review rev3 W3-1, W3-4: gateways sharing one PostgreSQL database (and wallet) each run the watcher. */
describe.skipIf(postgres.skip)("the overclaim watcher on gateways sharing a database", () => {
  let net: WatcherNetwork;
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
  const poolOver = (one: OpenedDatabase) => watcherPool(net, one, { sharedWallet: true });
  const watcherOver = (one: OpenedDatabase, chain: ChainContext) =>
    new OverclaimWatcher(
      { pool: poolOver(one), chain, challenges: new OwnerChallengeBook(one.db) },
      { watchSeconds: 86_400n },
    );
  const openedOn = (stackId: bigint) => challengesOpenedOn(net, stackId);

  /**
   * A stack whose leaf 0 the gateway holds the node's receipt for (10 units) and whose leaves 1 and 2 it signed
   * (10-unit bounds, no receipt); the node settles 50,000 units more: a receipt challenge on leaf 0 and index
   * challenges on leaves 1 and 2 are wanted.
   */
  const overClaimed = async (one: OpenedDatabase, node: DevNode) => {
    const pool = poolOver(one);
    const stackId = await closedStack(net, pool, node.nodeId);
    const { domain, leaves, answer } = await settleOverclaim(net, pool, node, stackId, {
      label: "replicas",
      startTotal: 0n,
      unitsAt: (nonce) => (nonce === 1n ? 50_010n : 10n),
      transcriptId: `0x${"be".repeat(32)}`,
    });
    const fields = { ...leaves[0]!, stackId, seed: 0n };
    await pool.keepReceipt({
      fields,
      signature: await signResponse(node.signerAccount, domain, fields),
      result: "0x",
    });
    return { stackId, answer };
  };

  beforeAll(async () => {
    net = await startWatcherNetwork({ disputeWindow: 600n, nodes: 2 });
  }, 180_000);

  afterAll(async () => {
    for (const one of opened) await one.close().catch(() => undefined);
    for (const db of made) await db.dispose();
    await net?.stop();
  });

  // W3-1: replica A read the settlement and the challenges the database held (none), then replica B ran its whole
  // pass and challenged; A went on and sent the same receipt challenge: a second bond on leaf 0, never followed.
  it("opens one receipt challenge on a leaf when two gateways' watchers race to it", async () => {
    const [a, b] = await shared();
    const { stackId } = await overClaimed(a, net.nodes[0]!);
    const other = watcherOver(b, net.wallet.ctx);
    let raced = false;
    const racing: ChainContext = {
      ...net.wallet.ctx,
      publicClient: new Proxy(net.wallet.ctx.publicClient, {
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
    const { stackId } = await overClaimed(a, net.nodes[1]!);
    // Another gateway's long transaction: the wallet's advisory lock, held from outside.
    const holder = new pg.Client({ connectionString: databaseUrl });
    await holder.connect();
    const lock = `atoma-wallet:${net.wallet.account.address.toLowerCase()}`;
    await holder.query("select pg_advisory_lock(hashtextextended($1, 0))", [lock]);
    let first: Promise<void> | undefined;
    let second: Promise<void> | undefined;
    try {
      first = watcherOver(a, net.wallet.ctx).pass();
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await fetch(net.devnet.rpc.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_mine", params: ["0x50"] }),
      });
      second = watcherOver(b, net.wallet.ctx).pass();
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
    const node = net.nodes[1]!;
    const { stackId, answer } = await overClaimed(a, node);
    await watcherOver(a, net.wallet.ctx).pass();
    const index = (await openedOn(stackId)).find((log) => log.args.leafIndex === 2n)!.args.challengeId!;
    await answer(2, index);
    expect((await getChallenge(net.wallet.ctx, index)).status).toBe(ChallengeStatus.Dismissed);
    let failing = true;
    let reads = 0;
    const flaky: ChainContext = {
      ...net.wallet.ctx,
      publicClient: new Proxy(net.wallet.ctx.publicClient, {
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
    const { stackId } = await overClaimed(a, net.nodes[0]!);
    await watcherOver(a, net.wallet.ctx).pass();
    expect((await openedOn(stackId)).map((log) => log.args.leafIndex).sort()).toEqual([0n, 1n, 2n]);
    await a.db
      .deleteFrom("owner_challenges")
      .where("stack_id", "=", stackId)
      .where("kind", "=", "index")
      .where("leaf_index", "=", 2n)
      .execute();
    await watcherOver(a, net.wallet.ctx).pass();
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
    const sentBlock = await net.wallet.ctx.publicClient.getBlockNumber();
    // A receipt challenge whose transaction never landed (waits `RECEIPT_PENDING_BLOCKS` before it is sent again).
    await book.sending(
      { stackId: 987_654n, nodeId: net.nodes[0]!.nodeId },
      [{ kind: "receipt", leafIndex: 0n }],
      sentBlock,
    );
    const starts: bigint[] = [];
    const counting: ChainContext = {
      ...net.wallet.ctx,
      publicClient: new Proxy(net.wallet.ctx.publicClient, {
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
      fetch(net.devnet.rpc.rpcUrl, {
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
    const head = await net.wallet.ctx.publicClient.getBlockNumber();
    await mine(5);
    await watcher.pass();
    expect(starts).toHaveLength(2);
    expect(starts[1]).toBeGreaterThan(sentBlock);
    expect(starts[1]).toBeGreaterThanOrEqual(head - 16n);
    expect(await book.unknown()).toHaveLength(1);
  }, 300_000);
});
