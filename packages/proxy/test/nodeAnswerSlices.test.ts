import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { SharedAnswers } from "../src/network/sharedAnswers.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const NODE = 11n;
/** A day-long cut window, as an operator that wants slow nodes' cuts remembered would set it. */
const DAY_MS = 86_400_000;

// Issue 12: every gateway wrote one `node_answers` row per node each time it flushed (every 2 s while busy), kept for
// the whole cut window: a day-long window with a few gateways and a hundred nodes grew to millions of rows, read in
// each cut count. Answers are now kept per node in slices of a twentieth of the window (as a gateway without a
// database keeps them in memory), each flush adding to its slice.
describe.each(testDatabases().filter((db) => !db.skip))("answers kept per slice ($name)", (database) => {
  let made: TestDatabaseConfig;
  let opened: OpenedDatabase;
  afterEach(async () => {
    await opened?.close();
    await made?.dispose();
  });

  const fail = (error: unknown) => {
    throw error;
  };

  it("keeps one row per node and slice however often two gateways flush, and counts every answer", async () => {
    made = database.make();
    opened = await openGatewayDatabase(made.config);
    const gateways = [new SharedAnswers(opened.db, DAY_MS, fail), new SharedAnswers(opened.db, DAY_MS, fail)];
    for (let flush = 0; flush < 40; flush++)
      for (const gateway of gateways) {
        gateway.answered(NODE);
        gateway.answered(NODE + 1n);
        await gateway.flush();
      }
    const { rows } = await sql<{ count: string }>`select count(*)::text as count from node_answers`.execute(
      opened.db,
    );
    // Two nodes, and at most two slices each (the flushes may straddle one slice's end).
    expect(Number(rows[0]!.count)).toBeLessThanOrEqual(4);
    const since = Date.now() - DAY_MS;
    expect(await gateways[0]!.since(opened.db, NODE, since)).toBe(80);
    expect(await gateways[1]!.since(opened.db, NODE + 1n, since)).toBe(80);
  });

  it("drops slices older than the window, and counts none of them", async () => {
    made = database.make();
    opened = await openGatewayDatabase(made.config);
    const windowMs = 60_000;
    const answers = new SharedAnswers(opened.db, windowMs, fail);
    answers.answered(NODE);
    await answers.flush();
    // The slice was written two windows ago (moved back on the database's clock by hand).
    await sql`update node_answers set at_ms = at_ms - ${2 * windowMs}`.execute(opened.db);
    answers.answered(NODE);
    answers.answered(NODE);
    await answers.flush();
    expect(await answers.since(opened.db, NODE, Date.now() - windowMs)).toBe(2);
    const { rows } = await sql<{ count: string }>`select count(*)::text as count from node_answers`.execute(
      opened.db,
    );
    expect(Number(rows[0]!.count)).toBe(1);
  });
});
