import { sql } from "kysely";
import { createPublicClient, http } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Relay, startRelay } from "../../sdk/test/relay.js";
import { Accounting } from "../src/accounting/accounting.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { ChainListener } from "../src/listener/chainListener.js";
import { eventSource } from "../src/listener/eventSource.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";
import { embeddedTestDatabase, type TestDatabase } from "./helpers/stateDatabases.js";
import { atomaTokenAbi, startTokenChain, type TokenChain } from "./helpers/tokenChain.js";

/** How long the relay holds each `eth_call` answer: a slow RPC provider, or viem's retries with back-off. */
const SLOW_MS = 3_000;
const RECIPIENT = "0x000000000000000000000000000000000000dEaD";

/**
 * Review M1: on the embedded SQLite store the node has one database connection, so a chain listener whose handler
 * waits on an RPC call inside its transaction holds every request's reserve and commit. The handlers that need the
 * chain (`ChainReadingHandler`) read before the transaction: a real anvil behind a real HTTP relay that delays
 * every `eth_call` by seconds, while requests keep reserving and committing at once.
 */
describe("chain reads of the listener's handlers on the embedded SQLite store", () => {
  let chain: TokenChain;
  let relay: Relay;
  let testDb: TestDatabase;
  let state: StateDatabase;
  let accounting: Accounting;

  beforeAll(async () => {
    chain = await startTokenChain();
    relay = await startRelay(chain.anvil.rpcUrl);
    relay.rewrite = async (body, _path, _headers, request) => {
      if (request.includes('"eth_call"')) await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
      return body;
    };
    testDb = embeddedTestDatabase();
    state = await testDb.open();
    accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
    await sql`create table seen_balances (tx_hash text not null, balance text not null)`.execute(state.db);
  }, 120_000);
  afterAll(async () => {
    await relay?.close();
    await chain?.anvil.stop();
    await state?.close();
    await testDb?.dispose();
  });

  /** The node's RPC, through the slow relay. */
  const slowClient = () =>
    createPublicClient({ transport: http(relay.url, { retryCount: 0, timeout: 30_000 }) });
  const balanceOf = () =>
    slowClient().readContract({
      address: chain.token,
      abi: atomaTokenAbi,
      functionName: "balanceOf",
      args: [RECIPIENT],
    });
  const ethCalls = () => relay.requests.filter((request) => request.body.includes('"eth_call"')).length;

  /** Starts a listener step and resolves once its handler's `eth_call` has reached the relay (and waits there). */
  async function pollUntilItReads(listener: ChainListener) {
    const before = ethCalls();
    const polled = listener.poll();
    polled.catch(() => {});
    const deadline = Date.now() + 20_000;
    while (ethCalls() === before) {
      if (Date.now() > deadline) throw new Error("the handler never read the chain");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return { polled };
  }

  /** One request's reserve and commit on a stack added beforehand, timed. */
  async function timedRequest(stackId: bigint, n: number) {
    const started = performance.now();
    const reservation = await accounting.reserve({ stackId, units: 10n, nonce: 0n, deadline: 0n });
    await accounting.commit(reservation, leafFor(n, 5n));
    return performance.now() - started;
  }

  it("a handler that reads the chain first leaves reserve and commit free while the RPC call waits", {
    timeout: 60_000,
  }, async () => {
    const listener = new ChainListener(
      { db: state.db, client: slowClient() },
      {
        name: "reads-first",
        sources: [
          eventSource({
            name: "balances",
            address: chain.token,
            abi: atomaTokenAbi,
            handlers: {
              Transfer: {
                async read(event) {
                  const balance = await balanceOf();
                  return async ({ db }) => {
                    await sql`insert into seen_balances values (${event.transactionHash}, ${balance.toString()})`.execute(
                      db,
                    );
                  };
                },
              },
            },
          }),
        ],
      },
    );
    const stacks = [await addStack(state.db), await addStack(state.db)];
    const block = await chain.transfer(41n);
    // The listener's step is under way: its handler's eth_call waits at the relay.
    const { polled } = await pollUntilItReads(listener);
    const started = performance.now();
    const took = [await timedRequest(stacks[0]!.stackId, 1), await timedRequest(stacks[1]!.stackId, 2)];
    for (const ms of took) expect(ms).toBeLessThan(1_000);
    expect(performance.now() - started).toBeLessThan(SLOW_MS / 2); // both done while the call still waits
    expect(await polled).toBe(true);
    expect(listener.nextBlock).toBe(block + 1n);
    const { rows } = await sql<{ balance: string }>`select balance from seen_balances`.execute(state.db);
    const transfers = await chain.publicClient.getContractEvents({
      address: chain.token,
      abi: atomaTokenAbi,
      eventName: "Transfer",
      fromBlock: 0n,
      toBlock: block,
    });
    // every Transfer so far (the genesis mint too) handled once, with the balance its read found
    expect(rows).toHaveLength(transfers.length);
    for (const row of rows) expect(BigInt(row.balance)).toBe(41n);
  });

  it("the shape the attestation handlers had (the read inside the transaction) holds every request behind the call", {
    timeout: 60_000,
  }, async () => {
    const listener = new ChainListener(
      { db: state.db, client: chain.publicClient },
      {
        name: "reads-inside",
        startBlock: await chain.publicClient.getBlockNumber(),
        sources: [
          eventSource({
            name: "balances-inside",
            address: chain.token,
            abi: atomaTokenAbi,
            handlers: {
              Transfer: async (event, { db }) => {
                const balance = await balanceOf();
                await sql`insert into seen_balances values (${event.transactionHash}, ${balance.toString()})`.execute(
                  db,
                );
              },
            },
          }),
        ],
      },
    );
    const { stackId } = await addStack(state.db);
    await chain.transfer(42n);
    const { polled } = await pollUntilItReads(listener);
    // The reserve waits for the listener's transaction, which waits for the relay.
    expect(await timedRequest(stackId, 3)).toBeGreaterThan(SLOW_MS / 2);
    expect(await polled).toBe(true);
  });
});
