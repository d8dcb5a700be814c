import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteDutyAsRead, insertDuty, listOpenDuties, recordPublicDraw } from "../src/attestation/duties.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(
    `an attester's duty a public top-up names on ${factory.name}`,
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

      const rowsOf = (stackId: bigint) =>
        state.db
          .selectFrom("attestation_tasks")
          .select(["task_id", "state", "commit_deadline", "sampled_indices"])
          .where("kind", "=", "attest")
          .where("stack_id", "=", stackId)
          .execute();
      const uniqueStack = () => 5_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
      /**
       * A window opens on a fresh stack (`SelectionOpened`: the node's pending row, due at the window's end, 100) and a
       * step reads that row: the duty as the step holds it.
       */
      const windowRowRead = async () => {
        const stackId = uniqueStack();
        await insertDuty(state.db, {
          kind: "attest",
          stackId,
          round: 0n,
          indices: [],
          commitDeadline: 100n,
          eventBlock: 10n,
        });
        const stale = (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.stackId === stackId)!;
        return { stackId, stale };
      };
      const publicDraw = (stackId: bigint, commitDeadline: bigint, indices: bigint[] = []) =>
        recordPublicDraw(state.db, {
          kind: "attest",
          stackId,
          round: 0n,
          indices,
          commitDeadline,
          eventBlock: 20n,
        });

      it("a candidate the top-up names while its selection row is still pending keeps its duty: a step that read the row in the window cannot delete it", async () => {
        // The window opens; a step reads the row, and by its chain reads the window is over and the node not seated ...
        const { stackId, stale } = await windowRowRead();
        expect(stale).toMatchObject({ state: "pending", commitDeadline: 100n });
        // ... the window's public top-up names the node meanwhile (`AttesterReplaced`) ...
        await publicDraw(stackId, 500n);
        // ... and the step forgets the selection duty it read: the drawn attester's duty must stay, due at the draw's deadline.
        await deleteDutyAsRead(state.db, stale);
        const rows = await rowsOf(stackId);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(rows[0]!.commit_deadline!)).toBe(500n);
      }, 60_000);

      it("the first draw's event gives a pending row its sample; a step that read the row before the draw forgets nothing", async () => {
        const { stackId, stale } = await windowRowRead();
        await publicDraw(stackId, 400n, [3n, 1n]);
        await deleteDutyAsRead(state.db, stale);
        const [row] = await rowsOf(stackId);
        expect(row).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(row!.commit_deadline!)).toBe(400n);
        expect((row!.sampled_indices as string[]).map(BigInt)).toEqual([3n, 1n]);
      }, 60_000);

      it("a node forgets a selection row the top-up did not touch (not named: nothing keeps it)", async () => {
        const { stackId, stale } = await windowRowRead();
        await deleteDutyAsRead(state.db, stale);
        expect(await rowsOf(stackId)).toEqual([]);
      }, 60_000);
    },
  );
}
