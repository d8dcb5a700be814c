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

      it("a candidate the top-up names while its selection row is still pending keeps its duty: a step that read the row in the window cannot delete it", async () => {
        const stackId = uniqueStack();
        // The window opens (`SelectionOpened`): every candidate holds a pending row, due at the window's end.
        await insertDuty(state.db, {
          kind: "attest",
          stackId,
          round: 0n,
          indices: [],
          commitDeadline: 100n,
          eventBlock: 10n,
        });
        // A step reads it; by its chain reads the window is over and the node is not seated ...
        const stale = (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.stackId === stackId)!;
        expect(stale).toMatchObject({ state: "pending", commitDeadline: 100n });
        // ... the window's public top-up names the node meanwhile (`AttesterReplaced`) ...
        await recordPublicDraw(state.db, {
          kind: "attest",
          stackId,
          round: 0n,
          indices: [],
          commitDeadline: 500n,
          eventBlock: 20n,
        });
        // ... and the step forgets the selection duty it read: the drawn attester's duty must stay, due at the draw's deadline.
        await deleteDutyAsRead(state.db, stale);
        const rows = await rowsOf(stackId);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(rows[0]!.commit_deadline!)).toBe(500n);
      }, 60_000);

      it("the first draw's event gives a pending row its sample; a step that read the row before the draw forgets nothing", async () => {
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
        await recordPublicDraw(state.db, {
          kind: "attest",
          stackId,
          round: 0n,
          indices: [3n, 1n],
          commitDeadline: 400n,
          eventBlock: 20n,
        });
        await deleteDutyAsRead(state.db, stale);
        const [row] = await rowsOf(stackId);
        expect(row).toMatchObject({ task_id: stale.taskId, state: "pending" });
        expect(BigInt(row!.commit_deadline!)).toBe(400n);
        expect((row!.sampled_indices as string[]).map(BigInt)).toEqual([3n, 1n]);
      }, 60_000);

      it("a node forgets a selection row the top-up did not touch (not named: nothing keeps it)", async () => {
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
        await deleteDutyAsRead(state.db, stale);
        expect(await rowsOf(stackId)).toEqual([]);
      }, 60_000);
    },
  );
}
