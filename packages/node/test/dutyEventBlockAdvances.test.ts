import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Duty,
  insertDuty,
  listOpenDuties,
  recordDrawnSeat,
  recordPublicDraw,
  recordReplacementDuty,
  updateDuty,
} from "../src/attestation/duties.js";
import type { StateDatabase } from "../src/db/openStateDatabase.js";
import { type TestDatabase, testDatabaseFactories } from "./helpers/stateDatabases.js";

/**
 * A step skips a chain read pinned behind the event that opened its duty (`stepAttest`: the read knows nothing of
 * it yet). The lagging replica: a window's row (opened at block 10) that a public draw at block 20 gives the node.
 * Unless the draw's event moves the row's `event_block` to 20, a replica at block 15 passes the check, sees the
 * window over and the node not seated, and forgets (or fails) the duty the draw just gave: the node is then timed out
 * and slashed for a draw it forgot. Every event that opens a row again moves its block forward, never back.
 */
for (const factory of testDatabaseFactories()) {
  describe.skipIf(factory.skip !== undefined)(`a duty's event block on ${factory.name}`, () => {
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

    const uniqueStack = () => 7_000_000_000n + BigInt(Math.floor(Math.random() * 1e9));
    const dutyOf = async (stackId: bigint): Promise<Duty> =>
      (await listOpenDuties(state.db, { limit: 10_000 })).find((d) => d.stackId === stackId)!;
    const windowRow = async (kind: "attest" | "committee" = "attest") => {
      const stackId = uniqueStack();
      await insertDuty(state.db, {
        kind,
        stackId,
        round: 0n,
        indices: [],
        commitDeadline: 100n,
        eventBlock: 10n,
      });
      return stackId;
    };
    const at = (stackId: bigint, eventBlock: bigint, commitDeadline = 500n) => ({
      kind: "attest" as const,
      stackId,
      round: 0n,
      indices: [],
      commitDeadline,
      eventBlock,
    });

    it("a public draw on a pending window row moves its event block to the draw's", async () => {
      const stackId = await windowRow();
      await recordPublicDraw(state.db, at(stackId, 20n));
      expect(await dutyOf(stackId)).toMatchObject({
        state: "pending",
        commitDeadline: 500n,
        eventBlock: 20n,
      });
    }, 60_000);

    it("a public draw that opens a failed row again moves its event block to the draw's", async () => {
      const stackId = await windowRow();
      const failed = await dutyOf(stackId);
      await updateDuty(state.db, failed.taskId, { state: "failed" });
      await recordPublicDraw(state.db, at(stackId, 25n));
      expect(await dutyOf(stackId)).toMatchObject({ state: "pending", eventBlock: 25n });
    }, 60_000);

    it("a replacement round's window that opens a failed row again moves its event block to the window's", async () => {
      const stackId = await windowRow();
      await updateDuty(state.db, (await dutyOf(stackId)).taskId, { state: "failed" });
      await recordReplacementDuty(state.db, at(stackId, 30n));
      expect(await dutyOf(stackId)).toMatchObject({ state: "pending", eventBlock: 30n });
    }, 60_000);

    it("a drawn seat on a pending window row moves its event block to the draw's", async () => {
      const stackId = await windowRow();
      await recordDrawnSeat(state.db, at(stackId, 40n));
      expect(await dutyOf(stackId)).toMatchObject({ state: "pending", eventBlock: 40n });
    }, 60_000);

    it("an older event seen again (a replayed log range) never moves the block back", async () => {
      const stackId = await windowRow();
      await recordPublicDraw(state.db, at(stackId, 50n));
      await recordPublicDraw(state.db, at(stackId, 20n));
      await recordDrawnSeat(state.db, at(stackId, 15n));
      expect((await dutyOf(stackId)).eventBlock).toBe(50n);
    }, 60_000);
  });
}
