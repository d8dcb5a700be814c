import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { FirstDeadlines } from "../src/network/firstDeadlines.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const STACK = 5n;
const signed = (deadline: bigint) => ({ nonce: 3n, reqHash: "0xAB", deadline });

// Review of issue 12, LOW: a database error on the 409 path (noting or reading a first deadline, forgetting one after
// the stack was retired) threw out of it, in place of the node's NodeDown (no fail-over) and before its strike.
describe.each(testDatabases())("first deadlines while the database fails ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig | undefined;
  let opened: OpenedDatabase | undefined;
  afterEach(async () => {
    await opened?.close();
    await db?.dispose();
  });

  it.skipIf(skip)("never throws, and strikes from the first deadline remembered in memory", async () => {
    db = make();
    opened = await openGatewayDatabase(db.config);
    const errors: unknown[] = [];
    const firsts = new FirstDeadlines(opened.db, (error) => errors.push(error));
    await sql`drop table first_deadlines`.execute(opened.db);
    await firsts.note(STACK, signed(100n));
    // Signed again with a later deadline (the 409, 401, 409 loop): the strike still counts from the first one.
    expect(await firsts.first(STACK, signed(900n))).toBe(100n);
    await firsts.forget(STACK, 3n, true);
    expect(errors.length).toBe(3);
  });
});
