import { afterEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { CutRequests } from "../src/network/cutRequests.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const STACK = 41n;
const cut = (reqHash: string) => ({ reqHash, relayedUnits: 30n, streamed: true });
const DAY_MS = 24 * 3_600_000;

// Review of issue 12: a stack's cut requests were read back once per process, so a cut another gateway noted later on
// a stack this one had read was never seen (a node could bill that leaf at will once the stack came back here), and
// the set of stacks read grew for ever; rows were never dropped by age.
describe.each(testDatabases())("cut requests shared between gateways ($name)", ({ make, skip, name }) => {
  let db: TestDatabaseConfig | undefined;
  const opened: OpenedDatabase[] = [];
  afterEach(async () => {
    for (const handle of opened.splice(0)) await handle.close();
    await db?.dispose();
    db = undefined;
  });

  it.skipIf(skip)("sees another gateway's later cut on a stack it read before", async () => {
    db = make();
    opened.push(await openGatewayDatabase(db.config));
    if (name === "postgres") opened.push(await openGatewayDatabase(db.config));
    const here = new CutRequests(opened[0]!.db);
    const there = new CutRequests(opened.at(-1)!.db);
    await there.set(STACK, 1n, cut("0xaa"));
    await here.load(STACK, [1n]);
    expect(here.get(STACK, 1n)?.reqHash).toBe("0xaa");
    // The stack went to the other gateway, whose stream at nonce 2 was cut; it comes back here with 2 pending.
    await there.set(STACK, 2n, cut("0xbb"));
    await here.load(STACK, [1n, 2n]);
    expect(here.get(STACK, 2n)).toEqual(cut("0xbb"));
  });

  it.skipIf(skip)("drops cut requests noted more than a week ago", async () => {
    db = make();
    opened.push(await openGatewayDatabase(db.config));
    const old = new CutRequests(opened[0]!.db, () => Date.now() - 8 * DAY_MS);
    await old.set(STACK, 1n, cut("0xaa"));
    await new CutRequests(opened[0]!.db).set(STACK + 1n, 1n, cut("0xcc"));
    const rows = await opened[0]!.db.selectFrom("cut_requests").select("stack_id").execute();
    expect(rows.map((row) => row.stack_id)).toEqual([STACK + 1n]);
  });
});
