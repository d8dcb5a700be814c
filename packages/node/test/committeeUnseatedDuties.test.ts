import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forgetUnseated } from "../src/attestation/committeeUnseated.js";
import { listOpenDuties, recordDrawnSeat, recordSelectionWindow } from "../src/attestation/duties.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

const HASH = `0x${"cd".repeat(32)}` as const;

/**
 * The committee step (`stepCommittee`) forgets the duty of a node its chain reads show never seated. A public
 * committee draw that names the node while that step is in flight stamps the pending selection row with the vote's
 * deadlines (`recordDrawnSeat`): the step must not then delete the drawn member's duty (it would miss the vote and
 * lose the timeout share), only the row as it read it.
 */
for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(
    `a committee member the public draw names while its step forgets the selection on ${factory.name}`,
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

      const uniqueDispute = () => 6_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
      const rowsOf = (disputeId: bigint) =>
        state.db
          .selectFrom("attestation_tasks")
          .select(["task_id", "state", "result", "commit_deadline", "reveal_deadline"])
          .where("kind", "=", "committee")
          .where("round", "=", disputeId)
          .execute();
      /** The selection window opens (the node's pending row, due at the window's end, 100) and a step reads the row. */
      const windowRowRead = async () => {
        const disputeId = uniqueDispute();
        await recordSelectionWindow(state.db, {
          kind: "committee",
          stackId: 9n,
          round: disputeId,
          indices: [],
          commitDeadline: 100n,
          eventBlock: 10n,
        });
        const stale = (await listOpenDuties(state.db, { limit: 10_000 })).find(
          (d) => d.kind === "committee" && d.round === disputeId,
        )!;
        return { disputeId, stale };
      };
      const drawnSeat = (disputeId: bigint) =>
        recordDrawnSeat(state.db, {
          kind: "committee",
          stackId: 9n,
          round: disputeId,
          indices: [],
          commitDeadline: 500n,
          revealDeadline: 600n,
          eventBlock: 20n,
        });

      it("a member the public draw names while the committee step holds its pending row keeps its duty, with the vote's deadlines", async () => {
        // A step reads the pending row; its chain reads do not show the node among the committee ...
        const { disputeId, stale } = await windowRowRead();
        expect(stale).toMatchObject({ state: "pending", commitDeadline: 100n, revealDeadline: undefined });
        // ... the public draw names the node meanwhile (`DisputeOpened`) ...
        await drawnSeat(disputeId);
        // ... and the step forgets the never-seated duty it read: the drawn seat stays.
        await forgetUnseated(state.db, stale);
        const rows = await rowsOf(disputeId);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(rows[0]!.commit_deadline!)).toBe(500n);
        expect(BigInt(rows[0]!.reveal_deadline!)).toBe(600n);
      }, 60_000);

      it("a member that sealed a self-selection the window dropped, then drawn in public, keeps its ballot and its seat", async () => {
        const { disputeId } = await windowRowRead();
        await state.db
          .updateTable("attestation_tasks")
          .set({ state: "committed", result: "ballot-text", commitment: HASH })
          .where("kind", "=", "committee")
          .where("round", "=", disputeId)
          .execute();
        const sealed = (await listOpenDuties(state.db, { limit: 10_000 })).find(
          (d) => d.kind === "committee" && d.round === disputeId,
        )!;
        expect(sealed.state).toBe("committed");
        await drawnSeat(disputeId);
        await forgetUnseated(state.db, sealed);
        const [row] = await rowsOf(disputeId);
        expect(row).toMatchObject({ task_id: sealed.taskId, state: "pending", result: "ballot-text" });
        expect(BigInt(row!.reveal_deadline!)).toBe(600n);
      }, 60_000);

      it("a row no draw touched goes (never seated: no vote to miss)", async () => {
        const { disputeId, stale } = await windowRowRead();
        await forgetUnseated(state.db, stale);
        expect(await rowsOf(disputeId)).toEqual([]);
      }, 60_000);
    },
  );
}
