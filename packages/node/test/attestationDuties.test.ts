import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertDuty, listOpenDuties, recordDutyError, updateDuty } from "../src/attestation/duties.js";
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
  });
}
