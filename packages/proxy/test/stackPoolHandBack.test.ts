import type { ChainContext } from "@atoma/chain";
import type { KyselyPlugin } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFlusher } from "../src/db/journalFlusher.js";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { StackPool } from "../src/network/stackPool.js";
import { oneTaskModel } from "./helpers/oneTaskModel.js";
import { insertNodeOneStack, NODE_ONE, NOW_MS } from "./helpers/poolStacks.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

/**
 * Review s5 L1, two gateways on one database: gateway A hands an idle stack back while its journal flush is slow, and
 * a waiter on A takes the stack from memory during that flush, signs the next nonce and releases it. A flush applies
 * only the records pending when it began: were the stack handed back at the end of it, gateway B would lease it at
 * the nonce A has just signed, and sign a different request there.
 */
const MODEL = oneTaskModel([NODE_ONE], 1);
const NO_CHAIN = {} as ChainContext;

describe.each(testDatabases())("a stack handed back during a slow flush ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig | undefined;
  let opened: OpenedDatabase | undefined;

  beforeAll(async () => {
    if (skip) return;
    db = make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
  });

  it.skipIf(skip)("is handed back with the progress made during the flush, never behind it", async () => {
    await insertNodeOneStack(opened!.db, MODEL.modelId, 1n);
    // The flusher's statements wait on `gate` while it is set; `reached` says one got there.
    let gate: Promise<void> | undefined;
    let open = () => {};
    let reached = () => {};
    const slow: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        if (gate) {
          reached();
          await gate;
        }
        return args.result;
      },
    };
    const flusher = await JournalFlusher.open(opened!.db.withPlugin(slow), {
      intervalMs: 60_000,
      maxDelayMs: 60_000,
    });
    const options = {
      maxPricePerMillion: 10n,
      unitsPerStack: 1_000n,
      now: () => NOW_MS,
      maxStacksPerModel: 1,
    };
    const a = new StackPool(
      { db: opened!.db, chain: NO_CHAIN, journal: flusher },
      { ...options, waitMs: 1_000 },
    );
    const b = new StackPool({ db: opened!.db, chain: NO_CHAIN }, { ...options, waitMs: 200 });
    try {
      const first = await a.lease(MODEL, 100n);
      await a.release(first, { unitsUsed: 10n, nextNonce: 1n });
      const atGate = new Promise<void>((resolve) => {
        reached = resolve;
      });
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const renewing = a.renewHolds(0);
      await atGate;
      // During the flush: a waiter on A takes the stack from memory and signs nonce 1.
      const again = await a.lease(MODEL, 100n);
      expect(again).toMatchObject({ stackId: 1n, nextNonce: 1n });
      await a.release(again, { unitsUsed: 20n, nextNonce: 2n });
      gate = undefined;
      open();
      await renewing;
      const row = await opened!.db
        .selectFrom("stacks")
        .select(["state", "next_nonce"])
        .where("stack_id", "=", 1n)
        .executeTakeFirstOrThrow();
      // Handed back (idle long enough) with nonce 1 recorded as used: B leases it past it.
      expect(row).toMatchObject({ state: "idle" });
      expect(BigInt(row.next_nonce)).toBe(2n);
      expect(await b.lease(MODEL, 100n)).toMatchObject({ stackId: 1n, nextNonce: 2n });
    } finally {
      open();
      await flusher.stop();
    }
  });
});
