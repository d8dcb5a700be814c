import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { Accounting } from "../src/accounting/accounting.js";
import { LIVE_IDLE_MS } from "../src/accounting/liveStacks.js";
import { openStateDatabase } from "../src/db/openStateDatabase.js";
import { sqliteConnectionOf } from "../src/db/sqlite/openSqlite.js";
import { addStack, leafFor, NODE_ID } from "./helpers/stacks.js";

const root = mkdtempSync(join(tmpdir(), "atoma-live-stacks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

describe("live stacks (SQLite, synchronous = normal)", () => {
  it("keeps a stack live while it answers and while requests keep coming, and lets it go once idle and on disk", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const state = await openStateDatabase({ kind: "embedded", dir: join(root, "db") });
    try {
      const connection = sqliteConnectionOf(state.db)!;
      const live = () =>
        connection.exclusive((_db, prepare) =>
          (prepare("select stack_id from live_stacks").all() as { stack_id: string }[]).map(
            (row) => row.stack_id,
          ),
        );
      const { stackId } = await addStack(state.db);
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      const request = async (nonce: number) =>
        accounting.commit(
          await accounting.reserve({ stackId, units: 5n, nonce: BigInt(nonce) }),
          leafFor(nonce, 5n),
        );

      const first = await accounting.reserve({ stackId, units: 5n, nonce: 0n });
      expect(await live()).toEqual([String(stackId)]); // in the reservation's own transaction
      await vi.advanceTimersByTimeAsync(LIVE_IDLE_MS * 2);
      expect(await live()).toEqual([String(stackId)]); // in flight: never retired
      await accounting.commit(first, leafFor(0, 5n));

      await vi.advanceTimersByTimeAsync(LIVE_IDLE_MS - 100);
      await request(1); // the next request before the stack was idle long enough: it stays live
      await vi.advanceTimersByTimeAsync(LIVE_IDLE_MS - 100);
      expect(await live()).toEqual([String(stackId)]);

      await vi.advanceTimersByTimeAsync(200);
      await vi.waitFor(async () => expect(await live()).toEqual([]));
      await request(2); // live again, from its next reservation
      expect(await live()).toEqual([String(stackId)]);
    } finally {
      await state.close();
    }
  });

  it("is not kept under synchronous = full, where every leaf is on disk before its receipt", async () => {
    const state = await openStateDatabase({ kind: "embedded", dir: join(root, "full"), synchronous: "full" });
    try {
      const { stackId } = await addStack(state.db);
      const accounting = new Accounting({ db: state.db }, { nodeId: NODE_ID });
      await accounting.reserve({ stackId, units: 5n, nonce: 0n });
      const rows = await sqliteConnectionOf(state.db)!.exclusive((_db, prepare) =>
        prepare("select count(*) as n from live_stacks").get(),
      );
      expect(rows).toMatchObject({ n: 0n });
    } finally {
      await state.close();
    }
  });
});
