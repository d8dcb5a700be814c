import type { ChainContext } from "@atoma/chain";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { StackPool } from "../src/network/stackPool.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const postgres = testDatabases()[1]!;
/** The wallet both gateways send with (only its address is read). */
const WALLET = { walletClient: { account: { address: `0x${"77".repeat(20)}` } } } as unknown as ChainContext;

// Review 5 LOW-1: each gateway serialised its own wallet's transactions only in-process, so two gateways on one
// wallet (and the watcher, outside the queue) could send two transactions with one nonce.
describe.skipIf(postgres.skip)("one wallet shared by gateways on one PostgreSQL", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase[] = [];

  beforeAll(async () => {
    db = postgres.make();
    opened = [await openGatewayDatabase(db.config), await openGatewayDatabase(db.config)];
  });
  afterAll(async () => {
    for (const one of opened) await one.close();
    await db?.dispose();
  });

  it("sends one transaction of the wallet at a time across gateways", async () => {
    const [a, b] = opened.map(
      (one) => new StackPool({ db: one.db, chain: WALLET, sharedWallet: true }, { maxPricePerMillion: 1n }),
    ) as [StackPool, StackPool];
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = a.withWallet(async () => {
      order.push("a starts");
      await held;
      order.push("a ends");
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = b.withWallet(async () => {
      order.push("b starts");
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(["a starts"]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["a starts", "a ends", "b starts"]);
  });
});
