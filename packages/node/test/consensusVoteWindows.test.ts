import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getVote, recordSelectionVote, seatVote, updateVote } from "../src/consensus/duties.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(
    `consensus vote rows per selection window on ${factory.name}`,
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

      const window = (disputeId: bigint, endsAt: bigint) => ({
        disputeId,
        requestId: 5n,
        nodeId: 3n,
        commitDeadline: endsAt,
        revealDeadline: 0n,
      });

      it("a step that read the earlier window's pending row cannot end it once the next round's window reopened it", async () => {
        const disputeId = 4_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        await recordSelectionVote(state.db, window(disputeId, 100n));
        // A step reads round 0's row (its window over, this node not selected) ...
        const stale = await getVote(state.db, disputeId);
        expect(stale).toMatchObject({ state: "pending", commit_deadline: 100n });
        // ... the listener reopens it for round 1 (same state, a later deadline) ...
        await recordSelectionVote(state.db, window(disputeId, 900n));
        // ... and the step's end, on what it read, leaves round 1's row to evaluate.
        expect(
          await updateVote(
            state.db,
            disputeId,
            { state: "done", outcome: "not_selected" },
            ["pending"],
            100n,
          ),
        ).toBe(false);
        expect(await getVote(state.db, disputeId)).toMatchObject({ state: "pending", commit_deadline: 900n });
        // Read afresh, it ends.
        expect(
          await updateVote(
            state.db,
            disputeId,
            { state: "done", outcome: "not_selected" },
            ["pending"],
            900n,
          ),
        ).toBe(true);
      }, 60_000);

      it("a later round's window reopens the row a failed round left; a replay or a seated row is left alone", async () => {
        const disputeId = 3_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        await recordSelectionVote(state.db, window(disputeId, 100n));
        await updateVote(state.db, disputeId, { state: "committed", result: "0xroot", tx_hash: "0xsent" }, [
          "pending",
        ]);
        // Round 0's event seen again: the seat taken in it stands.
        await recordSelectionVote(state.db, window(disputeId, 100n));
        expect(await getVote(state.db, disputeId)).toMatchObject({
          state: "committed",
          commit_deadline: 100n,
        });
        // Round 0 formed no committee; round 1's window opens: evaluate again, the recomputed vote kept.
        await recordSelectionVote(state.db, window(disputeId, 900n));
        expect(await getVote(state.db, disputeId)).toMatchObject({
          state: "pending",
          result: "0xroot",
          tx_hash: null,
          outcome: null,
          commit_deadline: 900n,
          reveal_deadline: 0n,
        });
        // A row the manager seated (its vote's deadlines) is never reopened by a selection event.
        await seatVote(state.db, { ...window(disputeId, 1_000n), revealDeadline: 1_100n });
        await updateVote(state.db, disputeId, { state: "committed" }, ["pending"]);
        await recordSelectionVote(state.db, window(disputeId, 2_000n));
        expect(await getVote(state.db, disputeId)).toMatchObject({
          state: "committed",
          commit_deadline: 1_000n,
        });
      }, 60_000);

      it("a node that ended its row unselected in round 0 gets round 1's window", async () => {
        const disputeId = 4_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
        await recordSelectionVote(state.db, window(disputeId, 100n));
        await updateVote(state.db, disputeId, { state: "done", outcome: "not_selected" }, ["pending"]);
        await recordSelectionVote(state.db, window(disputeId, 900n));
        expect(await getVote(state.db, disputeId)).toMatchObject({ state: "pending", outcome: null });
      }, 60_000);
    },
  );
}
