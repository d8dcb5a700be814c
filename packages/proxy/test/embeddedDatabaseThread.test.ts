import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { PgliteThread } from "../src/db/pgliteThread.js";
import { GatewayLifecycleError } from "../src/errors.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

describe("the embedded database on its own thread", () => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;

  beforeAll(async () => {
    db = testDatabases()[0]!.make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    await opened?.close();
    await db?.dispose();
  });

  it("leaves the event loop free while a statement runs: requests are not held behind a journal flush", async () => {
    let done = false;
    // Seconds of work in PGlite; on the gateway's thread it ran to the end before anything else could.
    const slow = sql<{ n: bigint }>`select count(*) as n from generate_series(1, 2000000)`
      .execute(opened.db)
      .then((result) => {
        done = true;
        return result;
      });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(done).toBe(false);
    expect((await slow).rows[0]?.n).toBe(2_000_000n);
  });

  it("keeps whole numbers as bigints, and PostgreSQL's error codes, across the thread", async () => {
    const { rows } = await sql<{ big: bigint; wide: bigint }>`select ${"9007199254740993"}::int8 as big,
      ${"115792089237316195423570985008687907853269984665640564039457584007913129639935"}::numeric(78, 0) as wide`.execute(
      opened.db,
    );
    expect(rows[0]).toEqual({
      big: 9_007_199_254_740_993n,
      wide: 115792089237316195423570985008687907853269984665640564039457584007913129639935n,
    });
    await sql`create table thread_probe (id int primary key)`.execute(opened.db);
    await sql`insert into thread_probe values (1)`.execute(opened.db);
    const duplicate = await sql`insert into thread_probe values (1)`
      .execute(opened.db)
      .catch((error) => error);
    expect(duplicate).toBeInstanceOf(Error);
    expect(duplicate).toMatchObject({ code: "23505", constraint: "thread_probe_pkey" });
  });

  it("rolls back a failed transaction whole: the thread runs one connection's statements in order", async () => {
    await sql`create table thread_accounts (id int primary key, balance int not null check (balance >= 0))`.execute(
      opened.db,
    );
    await sql`insert into thread_accounts values (1, 10), (2, 0)`.execute(opened.db);
    const moved = opened.db.transaction().execute(async (trx) => {
      await sql`update thread_accounts set balance = balance + 20 where id = 2`.execute(trx);
      await sql`update thread_accounts set balance = balance - 20 where id = 1`.execute(trx);
    });
    // A statement from outside the transaction waits for it, as on one connection.
    const outside = sql<{ total: number }>`select sum(balance)::int as total from thread_accounts`.execute(
      opened.db,
    );
    await expect(moved).rejects.toMatchObject({ code: "23514" });
    expect((await outside).rows[0]?.total).toBe(10);
    const { rows } = await sql<{
      id: number;
      balance: number;
    }>`select * from thread_accounts order by id`.execute(opened.db);
    expect(rows).toEqual([
      { id: 1, balance: 10 },
      { id: 2, balance: 0 },
    ]);
  });

  it("refuses statements once closed, with the gateway's error, and closes once", async () => {
    const other = testDatabases()[0]!.make();
    const second = await openGatewayDatabase(other.config);
    await Promise.all([second.close(), second.close()]);
    await expect(sql`select 1`.execute(second.db)).rejects.toThrow();
    await other.dispose();
  });

  // Review proxy-speed L7: a thread that dies under a running gateway must be told (the gateway then stops, and a
  // restart replays its journal), not only seen by the statements that fail from then on.
  it("tells its owner once when the thread dies, never when it is closed", async () => {
    const dir = testDatabases()[0]!.make();
    const config = dir.config;
    if (config.kind !== "embedded") throw new Error("an embedded database was expected");
    const lost: Error[] = [];
    const thread = await PgliteThread.open(config.dir, {}, (error) => lost.push(error));
    try {
      expect((await thread.query("select 1 as one", [])).rows).toEqual([{ one: 1 }]);
      await thread.terminate();
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(GatewayLifecycleError);
      await expect(thread.query("select 1", [])).rejects.toBe(lost[0]);
      const closed = await PgliteThread.open(config.dir, {}, (error) => lost.push(error));
      await closed.close();
      expect(lost).toHaveLength(1);
    } finally {
      await thread.close();
      await dir.dispose();
    }
  });
});
