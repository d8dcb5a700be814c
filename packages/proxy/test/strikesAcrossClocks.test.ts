import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { type OpenedDatabase, openGatewayDatabase } from "../src/db/openGatewayDatabase.js";
import { sameCutEvent } from "../src/network/nodeCuts.js";
import { SharedAnswers } from "../src/network/sharedAnswers.js";
import { StrikeCounter } from "../src/network/strikeCounter.js";
import { type TestDatabaseConfig, testDatabases } from "./helpers/testDatabases.js";

const NODE = 9n;
const WINDOW_MS = 600_000;
const options = { windowMs: WINDOW_MS, limit: 3, burstMs: 2_000 };

/**
 * A gateway on the database: its own clock (`skewMs` off the real one), its answers and its cut counter (`burstMs`: 0
 * where cuts counted back to back must each be an event, as the database's clock rounds to the millisecond).
 */
function gatewayOn(opened: OpenedDatabase, skewMs = 0, burstMs = options.burstMs) {
  const now = () => Date.now() + skewMs;
  const answers = new SharedAnswers(
    opened.db,
    WINDOW_MS,
    (error) => {
      throw error;
    },
    now,
  );
  return {
    now,
    answers,
    cuts: new StrikeCounter("cut", { ...options, burstMs }, { db: opened.db, answers }, now),
  };
}

async function strikeRows(opened: OpenedDatabase): Promise<number> {
  return (await opened.db.selectFrom("node_strikes").select("at_ms").where("node_id", "=", NODE).execute())
    .length;
}

// Review of issue 12: the counts kept in the gateway's database were timed, windowed and pruned on each gateway's own
// clock, counted with a read and a write that two gateways could interleave, and weighed against each process's own
// answers.
describe.each(testDatabases())(
  "node strikes past skewed clocks, racing gateways and restarts ($name)",
  ({ make, skip, name }) => {
    let db: TestDatabaseConfig | undefined;
    const opened: OpenedDatabase[] = [];
    afterEach(async () => {
      for (const handle of opened.splice(0)) await handle.close();
      await db?.dispose();
      db = undefined;
    });
    async function open(handles: number): Promise<OpenedDatabase[]> {
      db ??= make();
      const config = db.config;
      for (let i = 0; i < handles; i++) opened.push(await openGatewayDatabase(config));
      return opened;
    }

    it.skipIf(skip)(
      "counts a node's cuts at a gateway whose clock is far ahead, hiding and pruning none",
      async () => {
        const [a, b] = await open(name === "postgres" ? 2 : 1);
        const behind = gatewayOn(a!);
        // Twice the window ahead: its window and prune once dropped the others' events, and its event, timed in their
        // future, made every later cut look like the same blip.
        const ahead = gatewayOn(b ?? a!, 2 * WINDOW_MS);
        expect(await behind.cuts.record(NODE, behind.now())).toBe("none");
        expect(await ahead.cuts.record(NODE, ahead.now())).toBe("none");
        expect(await behind.cuts.record(NODE, behind.now())).toBe("cool_down");
        expect(await strikeRows(a!)).toBe(3);
      },
    );

    it.skipIf(skip)(
      "counts a cut after an event timed in the future (no burst for a negative age)",
      async () => {
        const [a] = await open(1);
        await a!.db
          .insertInto("node_strikes")
          .values({ node_id: NODE, kind: "cut", at_ms: BigInt(Date.now() + 60_000) })
          .execute();
        const gateway = gatewayOn(a!);
        // A stream begun long before: within the old rule's burst of the future event (a negative difference).
        expect(await gateway.cuts.record(NODE, gateway.now() - 120_000)).toBe("none");
        expect(gateway.cuts.events(NODE)).toBe(2);
        expect(sameCutEvent(1_060_000, 900_000, 1_000_000, 2_000)).toBe(false);
      },
    );

    it.skipIf(skip)(
      "counts one broken link that cut streams at many gateways at once as one event",
      async () => {
        const handles = await open(name === "postgres" ? 6 : 1);
        const gateways = Array.from({ length: 6 }, (_, i) => gatewayOn(handles[i % handles.length]!));
        // Every gateway's stream was open for a second when the link broke; each counts its cut at the same moment.
        const verdicts = await Promise.all(gateways.map((g) => g.cuts.record(NODE, g.now() - 1_000)));
        expect(verdicts).toEqual(Array(6).fill("none"));
        expect(await strikeRows(handles[0]!)).toBe(1);
      },
    );

    it.skipIf(skip)(
      "keeps an honest busy node past a restart, and still removes one that cuts most streams",
      async () => {
        const [a] = await open(1);
        const before = gatewayOn(a!);
        for (let i = 0; i < 100; i++) before.answers.answered(NODE);
        await before.answers.flush();
        // Restarted: this process has answered nothing yet; the node's 100 answers are in the database.
        const after = gatewayOn(a!, 0, 0);
        const verdicts: string[] = [];
        for (let cut = 0; cut < 6; cut++) verdicts.push(await after.cuts.record(NODE, after.now()));
        expect(verdicts.at(-1)).toBe("cool_down");
        expect(verdicts).not.toContain("remove");

        // Another node, 2 answers before the restart: 6 cuts of 8 streams take it out.
        const other = gatewayOn(a!);
        other.answers.answered(NODE + 1n);
        other.answers.answered(NODE + 1n);
        await other.answers.flush();
        const cutter = gatewayOn(a!, 0, 0);
        const last: string[] = [];
        for (let cut = 0; cut < 6; cut++) last.push(await cutter.cuts.record(NODE + 1n, cutter.now()));
        expect(last.at(-1)).toBe("remove");
      },
    );

    // Review of h-gws2, MEDIUM-1: a stream's age was read when its count was asked for, the database's clock only once
    // the count held the lock; a count that queued behind many others placed a stream begun just before the break
    // after the break's event, a new event each, and one broken link put an honest node aside.
    it.skipIf(skip)(
      "counts one broken link as one event however long its cuts queue (streams begun just before it)",
      async () => {
        const [a] = await open(1);
        const gateway = gatewayOn(a!);
        const begunAt = gateway.now() - 50;
        const verdicts = await Promise.all(
          Array.from({ length: 60 }, () => gateway.cuts.record(NODE, begunAt)),
        );
        expect(verdicts.every((verdict) => verdict === "none")).toBe(true);
        expect(await strikeRows(a!)).toBe(1);
        // The control: a stream begun after that event is another event.
        expect(await gateway.cuts.record(NODE, gateway.now())).toBe("none");
        expect(await strikeRows(a!)).toBe(2);
      },
    );

    // Review of h-gws2, MEDIUM-2: a count waited on another gateway's lock for as long as that gateway held it (a
    // stalled process keeps its transaction open), holding a pooled connection.
    it.skipIf(skip || name !== "postgres")(
      "skips a count another gateway's stalled transaction keeps locked, instead of waiting on it",
      async () => {
        const [a, b] = await open(2);
        const gateway = gatewayOn(b!);
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let locked!: () => void;
        const isLocked = new Promise<void>((resolve) => {
          locked = resolve;
        });
        const stalled = a!.db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(hashtextextended(${`atoma-strikes:cut:${NODE}`}, 0))`.execute(
            trx,
          );
          locked();
          await held;
        });
        await isLocked;
        const startedAt = Date.now();
        expect(await gateway.cuts.record(NODE, gateway.now())).toBe("none");
        expect(Date.now() - startedAt).toBeLessThan(15_000);
        expect(await strikeRows(b!)).toBe(0);
        release();
        await stalled;
        expect(await gateway.cuts.record(NODE, gateway.now())).toBe("none");
        expect(await strikeRows(b!)).toBe(1);
      },
    );

    it.skipIf(skip)("writes answers in batches, not once per request", async () => {
      const [a] = await open(1);
      const gateway = gatewayOn(a!);
      for (let i = 0; i < 500; i++) gateway.answers.answered(NODE);
      // Nothing written yet (under the flush interval), yet counted.
      const rows = await a!.db.selectFrom("node_answers").selectAll().execute();
      expect(rows).toEqual([]);
      expect(await gateway.answers.since(a!.db, NODE, 0)).toBe(500);
    });
  },
);
