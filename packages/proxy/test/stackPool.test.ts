import type { ChainContext } from "@atoma/chain";
import type { KyselyPlugin } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import type { CatalogModel } from "../src/network/catalog.js";
import { type LeasedStack, StackPool } from "../src/network/stackPool.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { insertNodeOneStack, NODE_ONE, NOW_MS, NOW_S } from "./helpers/poolStacks.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const MODEL = oneTaskModel(
  [NODE_ONE, { nodeId: 2n, url: "http://n2", signer: `0x${"02".repeat(20)}`, pricePerMillion: 50n }],
  1,
);
/** Never reached: these tests hold their stacks in the database, so the pool never buys. */
const NO_CHAIN = {} as ChainContext;

describe.each(testDatabases())("the stack pool ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig | undefined;
  let opened: OpenedDatabase | undefined;
  let stackId = 0n;

  const pool = (options: { maxStacksPerModel?: number; waitMs?: number } = {}) =>
    new StackPool(
      { db: opened!.db, chain: NO_CHAIN },
      { maxPricePerMillion: 10n, unitsPerStack: 1_000n, now: () => NOW_MS, maxStacksPerModel: 1, ...options },
    );
  const stack = async (values: Record<string, unknown> = {}) => {
    stackId++;
    await insertNodeOneStack(opened!.db, MODEL.modelId, stackId, values);
    return stackId;
  };

  beforeAll(async () => {
    if (skip) return;
    db = make();
    opened = await openGatewayDatabase(db.config);
  });
  beforeEach(async () => {
    await opened?.db.deleteFrom("stacks").execute();
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
  });

  it.skipIf(skip)("leases an idle stack with room, one request at a time, and takes it back", async () => {
    const id = await stack();
    const holder = pool({ waitMs: 100 });
    const leased = await holder.lease(MODEL, 100n);
    expect(leased).toMatchObject({ stackId: id, nodeId: 1n, pricePerMillion: 5n, fresh: false });
    // Busy: neither this gateway nor another one leases it.
    await expect(holder.lease(MODEL, 100n)).rejects.toMatchObject({ code: "no_node_available" });
    await expect(pool({ waitMs: 200 }).lease(MODEL, 100n)).rejects.toMatchObject({
      code: "no_node_available",
      retryAfterSeconds: 1,
    });
    await holder.release(leased, { unitsUsed: 40n, nextNonce: 1n });
    // Given back to the gateway that holds it: it leases it again from memory; another gateway still cannot.
    await expect(pool({ waitMs: 100 }).lease(MODEL, 100n)).rejects.toMatchObject({
      code: "no_node_available",
    });
    const again = await holder.lease(MODEL, 100n);
    expect(again).toMatchObject({ stackId: id, nextNonce: 1n });
    await holder.release(again, { unitsUsed: 80n, nextNonce: 2n });
    // Handed back (idle long enough) with its progress: another gateway takes it where it stands.
    await holder.renewHolds(0);
    expect(await pool().lease(MODEL, 100n)).toMatchObject({ stackId: id, nextNonce: 2n });
  });

  it.skipIf(skip)(
    "skips stacks too spent, too dear, about to expire, retired, or at a node that left",
    async () => {
      await stack({ units_used: 950n });
      await stack({ price_per_million: 50n, node_id: 2n });
      await stack({ expires_at: NOW_S + 60n });
      await stack({ state: "retired" });
      await stack({ node_id: 9n });
      // No usable stack, and the pool holds the most it may: the request gets 503, no purchase is tried.
      await stack({ state: "leased", lease_id: "busy", leased_until_ms: NOW_MS + 60_000 });
      await expect(pool({ waitMs: 100 }).lease(MODEL, 100n)).rejects.toMatchObject({
        code: "no_node_available",
      });
    },
  );

  // 16 requests on 8 stacks: every stack given back woke every waiting request, and each that did not get it ran a
  // claim and a purchase check against the database (a dozen statements of PGlite for each request served).
  it.skipIf(skip)(
    "a stack given back goes to one waiting request; the others wait on without a statement",
    async () => {
      await stack();
      await stack();
      let statements = 0;
      const counting: KyselyPlugin = {
        transformQuery: (args) => {
          statements++;
          return args.node;
        },
        transformResult: async (args) => args.result,
      };
      const holder = new StackPool(
        { db: opened!.db.withPlugin(counting), chain: NO_CHAIN },
        {
          maxPricePerMillion: 10n,
          unitsPerStack: 1_000n,
          now: () => NOW_MS,
          maxStacksPerModel: 2,
          waitMs: 10_000,
        },
      );
      let current = await holder.lease(MODEL, 100n);
      const other = await holder.lease(MODEL, 100n);
      const got: LeasedStack[] = [];
      let arrived = () => {};
      for (let i = 0; i < 4; i++)
        void holder.lease(MODEL, 100n).then((leased) => {
          got.push(leased);
          arrived();
        });
      // Each has looked once (the database has none idle, the pool is full) and waits.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const before = statements;
      for (let served = 1; served <= 4; served++) {
        const next = new Promise<void>((resolve) => {
          arrived = resolve;
        });
        await holder.release(current, undefined);
        await next;
        // One request at a time on a stack: the one given back went to exactly one of them.
        expect(got).toHaveLength(served);
        current = got.at(-1)!;
        expect(current.stackId).not.toBe(other.stackId);
        // Its request takes a while, as one at a node does.
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      expect(statements - before).toBe(0);
    },
  );

  it.skipIf(skip)("a waiting request still takes a stack another gateway gives back", async () => {
    const id = await stack();
    const other = pool();
    const leased = await other.lease(MODEL, 100n);
    const waiter = pool({ waitMs: 5_000 }).lease(MODEL, 100n);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await other.release(leased, { unitsUsed: 10n, nextNonce: 1n });
    await other.renewHolds(0);
    expect(await waiter).toMatchObject({ stackId: id, nextNonce: 1n });
  });

  it.skipIf(skip)("takes back a stack whose lease a crash left behind", async () => {
    // Lapsed on the database's clock (the one leases are judged by), long ago.
    const id = await stack({ state: "leased", lease_id: "dead", leased_until_ms: 0 });
    expect((await pool().lease(MODEL, 100n)).stackId).toBe(id);
  });

  it.skipIf(skip)(
    "refuses a request no stack could ever hold, and a model no node serves at its price",
    async () => {
      await expect(pool().lease(MODEL, 5_000n)).rejects.toMatchObject({ code: "no_node_available" });
      const dear: CatalogModel = {
        ...MODEL,
        tasks: [{ ...MODEL.tasks[0]!, nodes: [MODEL.tasks[0]!.nodes[1]!] }],
      };
      await expect(pool().lease(dear, 100n)).rejects.toThrow("no node serves the model now");
    },
  );
});
