import { keccak256, toHex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { FreedLeaves } from "../src/network/freedLeaves.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const hash = (what: string) => keccak256(toHex(what));
const SIGNATURE = `0x${"ab".repeat(65)}` as const;

// Issue 12, denied leaves: a nonce freed on the node's signed denial keeps that denial until the stack's settlement
// is checked (migration 0018), on the embedded database and PostgreSQL alike: one row per request freed at a nonce, a
// denial never traded for none, a freed request's leaf shown later counted once.
describe.each(testDatabases())("freed leaves with the node's denials ($name)", ({ make, skip }) => {
  let db: TestDatabaseConfig;
  let opened: OpenedDatabase;
  beforeAll(async () => {
    if (skip) return;
    db = make();
    opened = await openGatewayDatabase(db.config);
  });
  afterAll(async () => {
    if (skip) return;
    await opened.close();
    await db.dispose();
  });

  it.skipIf(skip)("keeps each denial, across instances, until it is checked", async () => {
    const freed = new FreedLeaves(opened.db);
    await freed.free(7n, 1n, hash("cut"), SIGNATURE);
    // The same nonce freed again for the request signed there next (its error answer): both kept.
    await freed.free(7n, 1n, hash("next"));
    // Freed again on no word at all: the denial held stays.
    await freed.free(7n, 1n, hash("cut"));
    const other = new FreedLeaves(opened.db);
    expect(await other.denialsOf(7n)).toEqual([
      { stackId: 7n, nonce: 1n, reqHash: hash("cut"), signature: SIGNATURE },
    ]);
    expect(await other.denialsOf(8n)).toEqual([]);
    // A freed request's leaf shown afterwards is counted once, and its denial still kept for the settlement.
    expect(await other.shownAfterFreed(7n, 1n, hash("cut"))).toBe(true);
    expect(await other.shownAfterFreed(7n, 1n, hash("cut"))).toBe(false);
    expect(await other.shownAfterFreed(7n, 1n, hash("next"))).toBe(true);
    expect(await other.denialsOf(7n)).toHaveLength(1);
    await other.forgetDenial({ stackId: 7n, nonce: 1n, reqHash: hash("cut"), signature: SIGNATURE });
    expect(await new FreedLeaves(opened.db).denialsOf(7n)).toEqual([]);
  });

  // A stack lives up to 30 days, then its settlement window: a denial pruned after 7 days would let its node settle
  // the denied leaf unproven. Rows without a denial still go.
  it.skipIf(skip)("prunes week-old freed leaves, but never a denial not yet checked", async () => {
    let now = 1_000_000_000_000;
    const freed = new FreedLeaves(opened.db, () => now);
    await freed.free(9n, 1n, hash("denied long ago"), SIGNATURE);
    await freed.free(9n, 2n, hash("freed long ago"));
    now += 8 * 24 * 3_600_000;
    await freed.free(10n, 0n, hash("today"));
    const other = new FreedLeaves(opened.db);
    expect((await other.denialsOf(9n)).map((d) => d.nonce)).toEqual([1n]);
    const rows = await opened.db
      .selectFrom("freed_leaves")
      .select("nonce")
      .where("stack_id", "=", 9n)
      .execute();
    expect(rows.map((row) => row.nonce)).toEqual([1n]);
  });
});

describe("freed leaves without a database", () => {
  it("remembers denials in memory without a database, and says so on the hot path", async () => {
    const freed = new FreedLeaves(undefined);
    await freed.free(3n, 2n, hash("cut").toUpperCase().replace("0X", "0x"), SIGNATURE);
    expect(freed.deniedHere(3n, 2n, hash("cut"))).toBe(true);
    expect(freed.deniedHere(3n, 2n, hash("other"))).toBe(false);
    expect((await freed.denialsOf(3n)).map((d) => d.nonce)).toEqual([2n]);
  });
});
