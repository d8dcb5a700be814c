import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { ChainReorgError } from "../src/errors.js";
import { ChainListener, type ChainListenerOptions } from "../src/listener/chainListener.js";
import { eventSource } from "../src/listener/eventSource.js";
import { createNodeMetrics } from "../src/metrics/nodeMetrics.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";
import { atomaTokenAbi, startTokenChain, type TokenChain } from "./helpers/tokenChain.js";

/** A fresh chain per dialect, so each run sees only its own events. */
let chain: TokenChain;

/** Handled transfers, as rows of a table the test owns in the node's database. */
async function createSeenTable(state: StateDatabase, table: string) {
  await sql`create table ${sql.id(table)} (tx_hash text not null, log_index integer not null, value numeric not null)`.execute(
    state.db,
  );
}

async function seen(state: StateDatabase, table: string) {
  const { rows } = await sql<{ tx_hash: string; log_index: number; value: bigint }>`select * from ${sql.id(
    table,
  )}`.execute(state.db);
  return rows;
}

/** Every Transfer the token ever emitted, from the chain itself. */
async function allTransfers() {
  return chain.publicClient.getContractEvents({
    address: chain.token,
    abi: atomaTokenAbi,
    eventName: "Transfer",
    fromBlock: 0n,
  });
}

function transferSource(table: string, failOnce?: { value: bigint; failed: boolean }) {
  return eventSource({
    name: "test",
    address: chain.token,
    abi: atomaTokenAbi,
    handlers: {
      Transfer: async (event, { db }) => {
        await sql`insert into ${sql.id(table)} values (${event.transactionHash}, ${event.logIndex}, ${event.args.value})`.execute(
          db,
        );
        if (failOnce && !failOnce.failed && event.args.value === failOnce.value) {
          failOnce.failed = true;
          throw new Error("handler failure the listener must roll back and retry");
        }
      },
    },
  });
}

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(`chain listener on ${factory.name}`, () => {
    let testDb: TestDatabase;
    let state: StateDatabase;

    beforeAll(async () => {
      chain = await startTokenChain();
      testDb = factory.make();
      state = await testDb.open();
    });
    afterAll(async () => {
      await chain?.anvil.stop();
      await state?.close();
      await testDb?.dispose();
    });

    it("handles every event exactly once across a stop, a restart and a failing handler", async () => {
      const table = "seen_restart";
      await createSeenTable(state, table);
      const failOnce = { value: 1_007n, failed: false };
      const options: ChainListenerOptions = {
        sources: [transferSource(table, failOnce)],
        name: "restart",
        pollingIntervalMs: 20,
        maxBlockRange: 3,
      };
      const metrics = createNodeMetrics({ processMetrics: false });
      let listener = new ChainListener({ db: state.db, client: chain.publicClient, metrics }, options);
      await listener.start();

      let last = 0n;
      for (let i = 0; i < 12; i++) last = await chain.transfer(1_000n + BigInt(i));
      // stop while events are still arriving, and keep sending
      const stopping = listener.stop();
      for (let i = 12; i < 24; i++) last = await chain.transfer(1_000n + BigInt(i));
      await stopping;
      const cursorAtStop = listener.nextBlock!;
      expect(cursorAtStop).toBeLessThan(last); // blocks mined after the stop are left for the restart

      // a new process: the database closed and opened again, a new listener over it
      await state.close();
      state = await testDb.open();
      listener = new ChainListener({ db: state.db, client: chain.publicClient, metrics }, options);
      await listener.start();
      expect(listener.nextBlock).toBe(cursorAtStop);
      for (let i = 24; i < 30; i++) last = await chain.transfer(1_000n + BigInt(i));
      expect(await listener.waitForBlock(last, 30_000)).toBe(true);
      await listener.stop();

      const rows = await seen(state, table);
      const expected = await allTransfers();
      expect(expected.length).toBe(31); // the mint and 30 transfers
      expect(rows.map((row) => `${row.tx_hash}:${row.log_index}`).sort()).toEqual(
        expected.map((event) => `${event.transactionHash}:${event.logIndex}`).sort(),
      );
      expect(failOnce.failed).toBe(true);
      expect((await metrics.chainErrors.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
    });

    it("waits for confirmations before handling an event", async () => {
      const table = "seen_confirmed";
      await createSeenTable(state, table);
      const listener = new ChainListener(
        { db: state.db, client: chain.publicClient },
        { sources: [transferSource(table)], name: "confirmed", confirmations: 2 },
      );
      const head = await chain.publicClient.getBlockNumber();
      while ((await listener.poll()) === true) {}
      expect(listener.nextBlock).toBe(head - 1n);
      const block = await chain.transfer(5n);
      expect(await listener.poll()).toBe(true); // only up to head - 2
      expect((await seen(state, table)).some((row) => row.value === 5n)).toBe(false);
      await chain.testClient.mine({ blocks: 2 });
      while ((await listener.poll()) === true) {}
      expect(listener.nextBlock).toBe(block + 1n);
      expect((await seen(state, table)).filter((row) => row.value === 5n)).toHaveLength(1);
    });

    it("notices a reorg under its cursor and makes no progress past it", async () => {
      const table = "seen_reorg";
      await createSeenTable(state, table);
      const listener = new ChainListener(
        { db: state.db, client: chain.publicClient },
        { sources: [transferSource(table)], name: "reorg" },
      );
      const snapshot = await chain.testClient.snapshot();
      await chain.transfer(77n);
      while ((await listener.poll()) === true) {}
      const cursor = listener.nextBlock!;
      await chain.testClient.revert({ id: snapshot });
      await chain.transfer(78n);
      await chain.transfer(79n);
      await expect(listener.poll()).rejects.toThrow(ChainReorgError);
      expect(listener.nextBlock).toBe(cursor);
    });
  });

  if (factory.skip !== undefined) it.skip(factory.skip, () => {});
}
