import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { LIVE_IDLE_MS } from "../src/accounting/liveStacks.js";
import { openStateDatabase, type StateDatabase } from "../src/db/openStateDatabase.js";
import { sqliteConnectionOf } from "../src/db/sqlite/openSqlite.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";
import { SyncGate, settle } from "./helpers/syncGate.js";

const root = mkdtempSync(join(tmpdir(), "atoma-live-order-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

/** A `normal` database whose log syncs pass through `gate`, with one stack and the node's accounting on it. */
async function served(name: string, gate: SyncGate) {
  const state = await openStateDatabase(
    { kind: "embedded", dir: join(root, name) },
    { datasync: gate.datasync },
  );
  const connection = sqliteConnectionOf(state.db)!;
  const { stackId } = await addStack(state.db);
  const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
  const request = async (nonce: number) =>
    accounting.commit(
      await accounting.reserve({ stackId, units: 5n, nonce: BigInt(nonce) }),
      leafFor(nonce, 5n),
    );
  const live = () =>
    connection.exclusive((_db, prepare) =>
      (prepare("select stack_id from live_stacks").all() as { stack_id: string }[]).map(
        (row) => row.stack_id,
      ),
    );
  return { state, connection, stackId, accounting, request, live };
}

async function closing(state: StateDatabase, gate: SyncGate, work: () => Promise<void>) {
  try {
    await work();
  } finally {
    gate.resume();
    await state.close();
  }
}

describe("the order of syncs and receipts on a live stack (SQLite, synchronous = normal)", () => {
  it("holds a new live stack's first leaf until the sync of its row has finished", async () => {
    const gate = new SyncGate();
    const { state, stackId, accounting } = await served("first-leaf", gate);
    await closing(state, gate, async () => {
      gate.pause();
      const reservation = await accounting.reserve({ stackId, units: 5n, nonce: 0n });
      // The row's sync, started by the reservation (on a loaded machine a few turns of the loop may not reach it).
      await vi.waitFor(() => expect(gate.waiting).toBe(1));
      let done = false;
      const commit = accounting.commit(reservation, leafFor(0, 5n)).then((leaf) => {
        done = true;
        return leaf;
      });
      await settle();
      expect(done).toBe(false); // no leaf to sign, so no receipt, while the row may still be lost
      gate.resume();
      expect((await commit).leafIndex).toBe(0n);
    });
  });

  it("retires a stack only after a sync that started after its last leaf, and not when a request came meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const gate = new SyncGate();
    const { state, connection, stackId, request, live } = await served("retire", gate);
    await closing(state, gate, async () => {
      await request(0);
      await connection.wal!.sync(); // the leaf's own sync, done
      gate.pause();
      await vi.advanceTimersByTimeAsync(LIVE_IDLE_MS);
      await vi.waitFor(() => expect(gate.waiting).toBe(1)); // the retirement's own sync
      expect(await live()).toEqual([String(stackId)]); // not gone before that sync has finished

      await request(1); // a whole request while the retirement waits: its leaf is after that sync
      gate.resume();
      await connection.wal!.sync();
      expect(await live()).toEqual([String(stackId)]); // the retirement planned before it did not happen

      await connection.wal!.sync();
      await vi.advanceTimersByTimeAsync(LIVE_IDLE_MS);
      await vi.waitFor(async () => expect(await live()).toEqual([])); // its own retirement, later
    });
  });
});
