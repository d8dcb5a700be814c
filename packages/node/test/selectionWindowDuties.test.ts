import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  deleteDutyAsRead,
  listOpenDuties,
  recordDrawnSeat,
  recordSelectionWindow,
} from "../src/attestation/duties.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

const HASH = `0x${"ab".repeat(32)}` as const;

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(
    `committee duties per selection window on ${factory.name}`,
    () => {
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

      const window = (disputeId: bigint, endsAt: bigint, eventBlock: bigint) => ({
        kind: "committee" as const,
        stackId: 9n,
        round: disputeId,
        indices: [],
        commitDeadline: endsAt,
        eventBlock,
      });
      const rowOf = (disputeId: bigint) =>
        state.db
          .selectFrom("attestation_tasks")
          .select([
            "task_id",
            "state",
            "result",
            "commitment",
            "commit_deadline",
            "reveal_deadline",
            "event_block",
          ])
          .where("kind", "=", "committee")
          .where("round", "=", disputeId)
          .executeTakeFirstOrThrow();
      const seal = (disputeId: bigint) =>
        state.db
          .updateTable("attestation_tasks")
          .set({ state: "committed", result: "ballot-text", commitment: HASH })
          .where("kind", "=", "committee")
          .where("round", "=", disputeId)
          .execute();

      it("a later round's selection window reopens the row the failed round left; its event seen again changes nothing", async () => {
        const disputeId = 2_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        // Round 0's window: the node self-selected (ballot stored, vote sealed); the round then formed no committee.
        await recordSelectionWindow(state.db, window(disputeId, 100n, 10n));
        const first = await rowOf(disputeId);
        await seal(disputeId);
        // Replaying round 0's event must not undo the seat this node took in it.
        await recordSelectionWindow(state.db, window(disputeId, 100n, 10n));
        expect(await rowOf(disputeId)).toMatchObject({ state: "committed", commitment: HASH });
        expect(BigInt((await rowOf(disputeId)).commit_deadline!)).toBe(100n);
        // Round 1's window: the row is the node's to evaluate again, on the new seed, its ballot kept.
        await recordSelectionWindow(state.db, window(disputeId, 900n, 50n));
        const reopened = await rowOf(disputeId);
        expect(reopened).toMatchObject({ state: "pending", result: "ballot-text", commitment: null });
        expect(reopened.task_id).toBe(first.task_id);
        expect(BigInt(reopened.commit_deadline!)).toBe(900n);
        expect(BigInt(reopened.event_block!)).toBe(50n);
        // A node not selected in round 0 forgot its duty: round 1 gives it a fresh one.
        const other = disputeId + 1n;
        await recordSelectionWindow(state.db, window(other, 900n, 50n));
        expect(await rowOf(other)).toMatchObject({ state: "pending", result: null });
      }, 60_000);

      it("a step that read the earlier window's row cannot delete it once the next round's window reopened it", async () => {
        const disputeId = 3_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        await recordSelectionWindow(state.db, window(disputeId, 100n, 10n));
        await seal(disputeId);
        // A step reads the sealed row of round 0 (its window over, this node not seated) ...
        const stale = (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.round === disputeId)!;
        expect(stale.state).toBe("committed");
        // ... the listener reopens it for round 1 meanwhile ...
        await recordSelectionWindow(state.db, window(disputeId, 900n, 50n));
        // ... and the step's delete, on what it read, leaves the node's duty in round 1.
        await deleteDutyAsRead(state.db, stale);
        expect(await rowOf(disputeId)).toMatchObject({ state: "pending" });
        // Read afresh, the row goes.
        const fresh = (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.round === disputeId)!;
        await deleteDutyAsRead(state.db, fresh);
        expect(
          await state.db
            .selectFrom("attestation_tasks")
            .select("task_id")
            .where("task_id", "=", fresh.taskId)
            .execute(),
        ).toEqual([]);
      }, 60_000);

      it("a node the public fallback draws while its selection row is still pending keeps its duty: a step that read the row in the window cannot delete it", async () => {
        const disputeId = 4_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        // The window opens: the node's row is pending (it has not recomputed, or was not selected, yet).
        await recordSelectionWindow(state.db, window(disputeId, 100n, 10n));
        // A step reads the pending row; by its chain reads the window is over and the node is not among the seated ...
        const stale = (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.round === disputeId)!;
        expect(stale).toMatchObject({ state: "pending", commitDeadline: 100n, revealDeadline: undefined });
        // ... the public fallback draws the node meanwhile (`DisputeOpened` names it) ...
        await recordDrawnSeat(state.db, {
          kind: "committee",
          stackId: 9n,
          round: disputeId,
          indices: [],
          commitDeadline: 500n,
          revealDeadline: 600n,
          eventBlock: 20n,
        });
        // ... and the step forgets the selection duty it read: the drawn seat must stay, with the vote's deadlines.
        await deleteDutyAsRead(state.db, stale);
        const seat = await rowOf(disputeId);
        expect(seat).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(seat.commit_deadline!)).toBe(500n);
        expect(BigInt(seat.reveal_deadline!)).toBe(600n);
        // The same event seen again changes nothing.
        await recordDrawnSeat(state.db, {
          kind: "committee",
          stackId: 9n,
          round: disputeId,
          indices: [],
          commitDeadline: 500n,
          revealDeadline: 600n,
          eventBlock: 20n,
        });
        expect(await rowOf(disputeId)).toMatchObject({ task_id: stale.taskId, state: "pending" });
      }, 60_000);
    },
  );
}
