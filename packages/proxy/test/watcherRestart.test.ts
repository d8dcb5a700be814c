import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ChainContext,
  ChallengeStatus,
  createAtomaPublicClient,
  createAtomaWalletClient,
  getChallenge,
  getNode,
  getSettlement,
  resolveChallenge,
  SettlementPhase,
} from "@atoma/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
/**
 * The most blocks the RPC in front of anvil answers `eth_getLogs` for, as hosted RPCs cap it (most at 2,000 or
 * less; here below the dev chain's length, so a read from far back needs more than one call).
 */
const LOG_CAP = 20n;
const WATCH = { watchSeconds: 86_400n, maxLogBlocks: LOG_CAP };

/**
 * A JSON-RPC proxy in front of anvil that refuses `eth_getLogs` over more than `LOG_CAP` blocks, as most hosted
 * RPCs do; everything else goes through.
 */
async function cappedRpc(
  upstream: string,
): Promise<{ url: string; refused: () => number; stop(): Promise<void> }> {
  let refused = 0;
  const call = async (body: unknown) => {
    const response = await fetch(upstream, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await response.json()) as { result?: unknown };
  };
  const blockOf = async (tag: unknown): Promise<bigint> => {
    if (typeof tag === "string" && tag.startsWith("0x")) return BigInt(tag);
    if (tag === "earliest") return 0n;
    const head = await call({ jsonrpc: "2.0", id: 0, method: "eth_blockNumber", params: [] });
    return BigInt(head.result as string);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
        id: number;
        method: string;
        params: { fromBlock?: string; toBlock?: string }[];
      };
      let reply: unknown;
      const filter = body.method === "eth_getLogs" ? body.params[0] : undefined;
      if (filter && (await blockOf(filter.toBlock)) - (await blockOf(filter.fromBlock)) + 1n > LOG_CAP) {
        refused += 1;
        reply = {
          jsonrpc: "2.0",
          id: body.id,
          error: { code: -32_005, message: `query exceeds max block range ${LOG_CAP}` },
        };
      } else reply = await call(body);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refused: () => refused,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Review rev W-2, W-3, W-4: the watcher's own challenges across restarts, an RPC that caps log ranges, and races. */
describe("the overclaim watcher's challenges across restarts", () => {
  /** One node per test: the first test slashes its node's collateral to 0. */
  let net: WatcherNetwork;
  let rpc: Awaited<ReturnType<typeof cappedRpc>>;
  /** The gateway's wallet through the capped RPC. */
  let capped: ChainContext;
  const made: { db: TestDatabaseConfig; opened: OpenedDatabase }[] = [];

  const database = async () => {
    const db = embedded.make();
    const entry = { db, opened: await openGatewayDatabase(db.config) };
    made.push(entry);
    return entry;
  };
  const poolOver = (opened: OpenedDatabase) => watcherPool(net, opened);
  const watcherOver = (opened: OpenedDatabase, chain: ChainContext) =>
    new OverclaimWatcher(
      { pool: poolOver(opened), chain, challenges: new OwnerChallengeBook(opened.db) },
      WATCH,
    );
  const openedOn = (stackId: bigint) => challengesOpenedOn(net, stackId);
  /** Three leaves whose requests the gateway signed (10-unit bounds), the excess in the first one's total. */
  const withheldRun = (pool: StackPool, node: WatcherNetwork["nodes"][number], stackId: bigint) =>
    settleOverclaim(net, pool, node, stackId, WITHHELD_EXCESS);

  beforeAll(async () => {
    net = await startWatcherNetwork({ disputeWindow: 600n, nodes: 2 });
    rpc = await cappedRpc(net.devnet.rpc.rpcUrl);
    const options = { ...net.devnet.rpc, rpcUrl: rpc.url };
    capped = {
      publicClient: createAtomaPublicClient(options),
      walletClient: createAtomaWalletClient(options, net.wallet.account),
      addresses: net.devnet.deployment.addresses,
    };
  }, 180_000);

  afterAll(async () => {
    await rpc?.stop();
    for (const { opened, db } of made) {
      await opened.close().catch(() => undefined);
      await db.dispose();
    }
    await net?.stop();
  });

  // W-2 and W-3: the gateway died after opening the last leaf's challenge, before the batch of the others went out.
  // After the restart the watcher read its challenges from 100,000 blocks of logs in one call, which the RPC
  // refused; re-sending the last leaf's challenge was refused as made, the log read behind that refusal failed
  // too, and the audit stopped there at every pass: the leaf holding the excess was never challenged. Nor was an
  // unanswered challenge of a stack past the watch horizon followed after a restart.
  it("opens the rest of an over-claim's challenges after a restart and resolves the unanswered one", async () => {
    const { db, opened } = await database();
    const node = net.nodes[0]!;
    const stackId = await closedStack(net, poolOver(opened), node.nodeId);
    const { answer } = await withheldRun(poolOver(opened), node, stackId);
    const dying: ChainContext = {
      ...capped,
      walletClient: new Proxy(capped.walletClient, {
        get(target, key, receiver) {
          if (key !== "writeContract") return Reflect.get(target, key, receiver);
          return async (request: { functionName: string }) => {
            if (request.functionName === "challengeIndices") throw new Error("the gateway died");
            return target.writeContract(request as never);
          };
        },
      }),
    };
    await watcherOver(opened, dying).pass();
    expect((await openedOn(stackId)).map((log) => log.args.leafIndex)).toEqual([2n]);
    expect(await capped.publicClient.getBlockNumber()).toBeGreaterThan(LOG_CAP);
    await opened.close();
    const restarted = await openGatewayDatabase(db.config);
    made.push({ db, opened: restarted });
    await watcherOver(restarted, capped).pass();
    const logs = await openedOn(stackId);
    expect(logs.map((log) => log.args.leafIndex)).toEqual([2n, 0n, 1n]);
    const [lastId, firstId, secondId] = logs.map((log) => log.args.challengeId!);
    await answer(2, lastId!);
    await answer(1, secondId!);
    await expect(answer(0, firstId!)).rejects.toMatchObject({ errorName: "RunningTotalBroken" });
    // Past the answer deadlines, and past the watch horizon (the stack expired more than `watchSeconds` ago).
    await net.devnet.advance(3 * 86_400);
    await restarted.close();
    const again = await openGatewayDatabase(db.config);
    made.push({ db, opened: again });
    await watcherOver(again, capped).pass();
    expect((await getChallenge(net.wallet.ctx, firstId!)).status).toBe(ChallengeStatus.Upheld);
    expect((await getSettlement(net.wallet.ctx, stackId)).phase).toBe(SettlementPhase.Failed);
    expect((await getNode(net.wallet.ctx, node.nodeId)).collateral).toBe(0n);
    const rows = await again.db
      .selectFrom("owner_challenges")
      .select("state")
      .where("stack_id", "=", stackId)
      .execute();
    expect(rows.map((row) => row.state)).toEqual(["closed", "closed", "closed"]);
  }, 300_000);

  // W-4: someone else (here a keeper) resolves one of the gateway's challenges between the watcher's read and its
  // transaction. The revert ended the pass: the other challenges, the payouts and the withdrawal waited.
  it("resolves the other challenges when one was resolved by someone else first", async () => {
    const { opened } = await database();
    const node = net.nodes[1]!;
    const stackId = await closedStack(net, poolOver(opened), node.nodeId);
    await withheldRun(poolOver(opened), node, stackId);
    let raced: bigint | undefined;
    const keeper = await net.devnet.account(0n);
    const racing: ChainContext = {
      ...capped,
      publicClient: new Proxy(capped.publicClient, {
        get(target, key, receiver) {
          if (key !== "simulateContract") return Reflect.get(target, key, receiver);
          return async (request: { functionName: string; args: readonly unknown[] }) => {
            if (request.functionName === "resolve" && raced === undefined) {
              raced = request.args[0] as bigint;
              await resolveChallenge(keeper.ctx, { challengeId: raced });
            }
            return target.simulateContract(request as never);
          };
        },
      }),
    };
    const watcher = watcherOver(opened, racing);
    await watcher.pass();
    const ids = (await openedOn(stackId)).map((log) => log.args.challengeId!);
    expect(ids).toHaveLength(3);
    await net.devnet.advance(3 * 86_400);
    await watcher.pass();
    expect(raced).toBeDefined();
    for (const id of ids)
      expect((await getChallenge(net.wallet.ctx, id)).status).toBe(ChallengeStatus.Upheld);
    const rows = await opened.db
      .selectFrom("owner_challenges")
      .select("state")
      .where("stack_id", "=", stackId)
      .execute();
    expect(rows.map((row) => row.state)).toEqual(["closed", "closed", "closed"]);
  }, 300_000);
});
