import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  insertDuty,
  listOpenDuties,
  recordDrawnSeat,
  recordDutyError,
  updateDuty,
} from "../src/attestation/duties.js";
import { LANE_STATES } from "../src/attestation/dutyLanes.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

const HASH = `0x${"ab".repeat(32)}` as const;

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(`attestation duties on ${factory.name}`, () => {
    let testDb: TestDatabase;
    let state: StateDatabase;

    beforeAll(async () => {
      testDb = factory.make();
      state = await testDb.open();
    }, 60_000);
    afterAll(async () => {
      await state?.close();
      await testDb?.dispose();
    });

    it("records a duty once however often its event is seen, and keeps its progress across a reopen", async () => {
      const duty = {
        kind: "attest" as const,
        stackId: 2n ** 200n,
        round: 0n,
        indices: [3n, 1n],
        commitDeadline: 1_700_000_000n,
        eventBlock: 42n,
      };
      await insertDuty(state.db, duty);
      await insertDuty(state.db, duty);
      await insertDuty(state.db, { ...duty, kind: "committee", round: 7n, indices: [] });
      const open = await listOpenDuties(state.db);
      expect(open).toHaveLength(2);
      const [attest] = open;
      expect(attest).toMatchObject({
        kind: "attest",
        stackId: 2n ** 200n,
        indices: [3n, 1n],
        state: "pending",
        servingNodeId: undefined,
        eventBlock: 42n,
      });
      await recordDutyError(state.db, attest!.taskId, "blob_not_found: no such blob");
      await updateDuty(state.db, attest!.taskId, {
        state: "committed",
        servingNodeId: 5n,
        transcriptId: HASH,
        commitment: HASH,
        lastError: null,
      });
      await state.close();
      state = await testDb.open();
      const [resumed] = await listOpenDuties(state.db);
      expect(resumed).toMatchObject({
        state: "committed",
        servingNodeId: 5n,
        transcriptId: HASH,
        commitment: HASH,
        attempts: 1,
      });
      await updateDuty(state.db, resumed!.taskId, { state: "done" });
      expect((await listOpenDuties(state.db)).map((d) => d.kind)).toEqual(["committee"]);
    }, 60_000);

    it("a member that sealed its vote in a self-selection the window then dropped, drawn by the public fallback, commits again (its ballot kept)", async () => {
      const disputeId = 1_000n + BigInt(Math.floor(Math.random() * 1e9));
      // The selection window opened: every node records a committee duty for the dispute.
      await insertDuty(state.db, {
        kind: "committee",
        stackId: 9n,
        round: disputeId,
        indices: [],
        commitDeadline: 100n,
        eventBlock: 10n,
      });
      const selfSelected = (await listOpenDuties(state.db)).find((d) => d.round === disputeId)!;
      // Selected: its ballot stored and its vote sealed into `selfSelect`; the window then fell back to a public draw.
      await updateDuty(state.db, selfSelected.taskId, {
        state: "committed",
        result: "ballot-text",
        commitment: HASH,
      });
      // The public draw seats it uncommitted: its duty must be to commit again, not to wait to reveal.
      await recordDrawnSeat(state.db, {
        kind: "committee",
        stackId: 9n,
        round: disputeId,
        indices: [],
        commitDeadline: 500n,
        revealDeadline: 600n,
        eventBlock: 20n,
      });
      const drawn = (await listOpenDuties(state.db)).filter((d) => d.round === disputeId);
      expect(drawn).toHaveLength(1);
      expect(drawn[0]).toMatchObject({
        taskId: selfSelected.taskId,
        state: "pending",
        result: "ballot-text",
        commitDeadline: 500n,
        revealDeadline: 600n,
      });
      // A member that already revealed is left alone by the same event seen again (a replay changes nothing).
      await updateDuty(state.db, selfSelected.taskId, { state: "revealed" });
      await recordDrawnSeat(state.db, {
        kind: "committee",
        stackId: 9n,
        round: disputeId,
        indices: [],
        commitDeadline: 700n,
        revealDeadline: 800n,
        eventBlock: 30n,
      });
      const [again] = (await listOpenDuties(state.db)).filter((d) => d.round === disputeId);
      expect(again).toMatchObject({ state: "revealed", commitDeadline: 500n });
      // A member drawn with no duty yet gets a fresh one.
      await recordDrawnSeat(state.db, {
        kind: "committee",
        stackId: 9n,
        round: disputeId + 1n,
        indices: [],
        commitDeadline: 500n,
        revealDeadline: 600n,
        eventBlock: 20n,
      });
      expect((await listOpenDuties(state.db)).find((d) => d.round === disputeId + 1n)).toMatchObject({
        state: "pending",
        result: undefined,
      });
    }, 60_000);

    it("a worker reaches every open duty in turn: many candidates waiting on a draw starve neither an opening nor the newest duty", async () => {
      // A griefing server settles stack after stack whose windows close into a public top-up nobody draws for a
      // while: every candidate keeps a quick pending duty for each. Under them sit an attester's committed duty
      // (its opening is due) and, past the scan's bound, the newest duty.
      const base = (await listOpenDuties(state.db, { limit: 10_000 })).length;
      const first = 1_000n;
      for (let k = 0n; k < 130n; k++)
        await insertDuty(state.db, {
          kind: "attest",
          stackId: first + k,
          round: 0n,
          indices: [0n],
          eventBlock: 1n,
        });
      const all = await listOpenDuties(state.db, { limit: 10_000 });
      expect(all).toHaveLength(base + 130);
      const opening = all.find((d) => d.stackId === first + 60n)!;
      await updateDuty(state.db, opening.taskId, { state: "committed", commitment: HASH });
      const newest = all.at(-1)!;
      // Bounded: the oldest 100 from the start.
      const firstScan = await listOpenDuties(state.db);
      expect(firstScan).toHaveLength(100);
      expect(firstScan.map((d) => d.taskId)).not.toContain(newest.taskId);
      // A worker passes the duty it started last: the scan goes on from there and wraps to the oldest.
      const lastStarted = firstScan[99]!.taskId;
      const nextScan = await listOpenDuties(state.db, { after: lastStarted });
      expect(nextScan[0]!.taskId).toBeGreaterThan(lastStarted);
      expect(nextScan.map((d) => d.taskId)).toContain(newest.taskId);
      expect(nextScan.at(-1)!.taskId).toBeLessThan(lastStarted);
      // Turns follow the rows, whatever their state: the committed duty comes in its place among the pending ones.
      const before = await listOpenDuties(state.db, { after: opening.taskId - 3n, limit: 4 });
      expect(before.map((d) => d.taskId)).toEqual([
        opening.taskId - 2n,
        opening.taskId - 1n,
        opening.taskId,
        opening.taskId + 1n,
      ]);
      expect(before[2]!.state).toBe("committed");
      // The worker's chain lane lists committed and revealed duties alone: the opening comes first there, whatever
      // pending duties sit around it (they take turns in the recompute lane's slots).
      const chainLane = await listOpenDuties(state.db, {
        after: opening.taskId - 3n,
        limit: 4,
        states: LANE_STATES.chain,
      });
      expect(chainLane[0]!.taskId).toBe(opening.taskId);
      expect(chainLane.every((d) => d.state !== "pending")).toBe(true);
      const computeLane = await listOpenDuties(state.db, {
        after: opening.taskId - 1n,
        states: LANE_STATES.compute,
      });
      expect(computeLane[0]!.taskId).toBe(opening.taskId + 1n);
    }, 60_000);
  });
}
