import { setTimeout as sleep } from "node:timers/promises";
import type { ChainContext } from "@atoma/chain";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { StackPool } from "../src/network/stackPool.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { insertNodeOneStack, NODE_ONE, NOW_MS, NOW_S } from "./helpers/poolStacks.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const MODEL = oneTaskModel([NODE_ONE], 1);
/** Never reached: the stacks are in the database, so no pool buys. */
const NO_CHAIN = {} as ChainContext;
const HOURS = 3_600_000;

/**
 * Review L4, two gateways on one database whose clocks disagree: a stack's hold is written and judged on the
 * database's clock, so a gateway whose clock runs ahead never takes a stack another still holds, nor does one whose
 * clock runs behind write a hold that is over at once; and a gateway whose hold went unrenewed for its length stops
 * using the stack (another may have it by then), until a renewal finds it still its own.
 */
describe.each(testDatabases())("stack holds across gateways with skewed clocks ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig | undefined;
  const opened: OpenedDatabase[] = [];
  /** Gateway A's and gateway B's connections: two pools of one PostgreSQL schema, or the one embedded database. */
  let a: OpenedDatabase;
  let b: OpenedDatabase;

  // No margin unless a test sets one: a short hold here is all usable.
  const pool = (
    on: OpenedDatabase,
    skewMs: number,
    options: { leaseMs?: number; waitMs?: number; pickMarginMs?: number } = {},
  ) =>
    new StackPool(
      { db: on.db, chain: NO_CHAIN },
      {
        maxPricePerMillion: 10n,
        unitsPerStack: 1_000n,
        maxStacksPerModel: 1,
        waitMs: 100,
        now: () => NOW_MS + skewMs,
        pickMarginMs: 0,
        ...options,
      },
    );
  const refused = { code: "no_node_available" };

  beforeAll(async () => {
    if (skip) return;
    db = make();
    a = await openGatewayDatabase(db.config);
    b = db.config.kind === "postgres" ? await openGatewayDatabase(db.config) : a;
    opened.push(a, ...(b === a ? [] : [b]));
  });
  beforeEach(async () => {
    if (skip) return;
    await a.db.deleteFrom("stacks").execute();
    // Far from expiry on every clock here.
    await insertNodeOneStack(a.db, MODEL.modelId, 1n, { expires_at: NOW_S + 86_400n });
  });
  afterAll(async () => {
    for (const one of opened) await one.close();
    await db?.dispose();
  });

  it.skipIf(skip)(
    "a gateway whose clock runs hours ahead does not take a stack another holds, nor one behind lose its hold",
    async () => {
      const holder = pool(a, 0);
      const ahead = pool(b, 2 * HOURS);
      const stack = await holder.lease(MODEL, 10n);
      await holder.release(stack, { unitsUsed: 10n, nextNonce: 1n });
      // On its own clock the holder's lease ended two hours ago: it would sign at the nonce the holder signs next.
      await expect(ahead.lease(MODEL, 10n)).rejects.toMatchObject(refused);
      await holder.renewHolds(60_000);
      await expect(ahead.lease(MODEL, 10n)).rejects.toMatchObject(refused);
      // Handed back: the other takes it where it stands.
      await holder.renewHolds(0);
      const taken = await ahead.lease(MODEL, 10n);
      expect(taken).toMatchObject({ stackId: 1n, nextNonce: 1n });
      // A holder whose clock runs hours behind writes a hold as long as anyone's.
      await ahead.release(taken, { unitsUsed: 20n, nextNonce: 2n });
      await ahead.renewHolds(0);
      const behind = pool(a, -2 * HOURS);
      expect(await behind.lease(MODEL, 10n)).toMatchObject({ stackId: 1n, nextNonce: 2n });
      await expect(pool(b, 0).lease(MODEL, 10n)).rejects.toMatchObject(refused);
    },
  );

  it.skipIf(skip)(
    "a gateway whose hold went unrenewed for its length stops using the stack; another takes it then",
    async () => {
      const LEASE_MS = 300;
      const stale = pool(a, 0, { leaseMs: LEASE_MS });
      const other = pool(b, 0, { leaseMs: 60_000 });
      const stack = await stale.lease(MODEL, 10n);
      await stale.release(stack, { unitsUsed: 10n, nextNonce: 1n });
      expect(await stale.lease(MODEL, 10n)).toMatchObject({ stackId: 1n });
      await stale.release(stack, { unitsUsed: 10n, nextNonce: 1n });
      // Its renewals stop (a stalled process, a database it cannot reach) for longer than the hold.
      await sleep(LEASE_MS + 100);
      // Held in its memory, but not renewed for its hold's length: it is not leased from there any more.
      await expect(stale.lease(MODEL, 10n)).rejects.toMatchObject(refused);
      // Lapsed on the database's clock: the other gateway takes it.
      const taken = await other.lease(MODEL, 10n);
      expect(taken.stackId).toBe(1n);
      // The stalled gateway's late renewal finds it is no longer its own and drops it.
      await stale.renewHolds(60_000);
      await expect(stale.lease(MODEL, 10n)).rejects.toMatchObject(refused);
      await other.release(taken, { unitsUsed: 30n, nextNonce: 3n });
      await other.renewHolds(0);
      expect(await stale.lease(MODEL, 10n)).toMatchObject({ stackId: 1n, nextNonce: 3n });
    },
  );

  it.skipIf(skip)(
    "review M1: a busy stack whose hold lapsed meanwhile signs nothing more; one with little hold left is not picked",
    async () => {
      const LEASE_MS = 600;
      const stale = pool(a, 0, { leaseMs: LEASE_MS, pickMarginMs: LEASE_MS / 2 });
      const other = pool(b, 0, { leaseMs: 60_000 });
      const stack = await stale.lease(MODEL, 10n);
      await stale.markSigned(stack.stackId, 0n, 10n);
      // Its renewals stop while a request still uses the stack (a long stream, a session's request taken late).
      await sleep(LEASE_MS + 100);
      const taken = await other.lease(MODEL, 10n);
      expect(taken.stackId).toBe(1n);
      // The other gateway may sign nonce 1 now: the stalled one must not.
      await expect(stale.markSigned(stack.stackId, 1n, 10n)).rejects.toMatchObject(refused);
      await stale.release(stack, { unitsUsed: 10n, nextNonce: 1n });
      // A renewal finds the stack another's: still nothing signed on it here.
      await stale.renewHolds(60_000);
      await expect(stale.markSigned(stack.stackId, 1n, 10n)).rejects.toMatchObject(refused);
      // Held again later (handed back): signed on again.
      await other.release(taken, { unitsUsed: 20n, nextNonce: 2n });
      await other.renewHolds(0);
      const again = await stale.lease(MODEL, 10n);
      await expect(stale.markSigned(again.stackId, 2n, 10n)).resolves.toBeUndefined();
      await stale.release(again, { unitsUsed: 30n, nextNonce: 3n });
      // Past half its hold unrenewed: not picked for a request that may hold it longer than what is left.
      await sleep(LEASE_MS / 2 + 50);
      await expect(stale.lease(MODEL, 10n)).rejects.toMatchObject(refused);
      await stale.renewHolds(60_000);
      expect(await stale.lease(MODEL, 10n)).toMatchObject({ stackId: 1n, nextNonce: 3n });
    },
  );

  it.skipIf(skip)("a hold unrenewed for its length that no one took is used again once renewed", async () => {
    const LEASE_MS = 300;
    const stale = pool(a, 0, { leaseMs: LEASE_MS });
    const stack = await stale.lease(MODEL, 10n);
    await stale.release(stack, { unitsUsed: 10n, nextNonce: 1n });
    await sleep(LEASE_MS + 100);
    await expect(stale.lease(MODEL, 10n)).rejects.toMatchObject(refused);
    await stale.renewHolds(60_000);
    expect(await stale.lease(MODEL, 10n)).toMatchObject({ stackId: 1n, nextNonce: 1n });
  });
});
