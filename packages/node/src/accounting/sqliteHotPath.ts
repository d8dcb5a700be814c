import type Database from "libsql";
import type { SqliteConnection } from "../db/sqlite/libsqlDialect.js";
import { pragmaValue, requireSynchronous } from "../db/sqlite/openSqlite.js";
import { toSqlite } from "../db/sqlite/values.js";
import { liveStacksOf, refuseAfterFailedSync } from "./liveStacks.js";

/**
 * The request hot path on SQLite: reserve and commit, each one `begin immediate` transaction of prepared statements
 * run synchronously while the node's one connection is held (no other transaction can interleave). They do what
 * the PostgreSQL statements in `accounting.ts` do (the reserve CTE, the `commit_leaf` function), with the same
 * conditions and outcomes; each survives kill -9 when it returns, and a power cut as `openSqlite.ts` says.
 */

const HOLD = `update stacks set units_reserved = units_reserved + ?, updated_at = current_timestamp
  where stack_id = ? and serving_node_id = ? and state = 'active' and expires_at > ? and leaf_count = ?
    and units_reserved = 0 and units_bought - units_used - units_reserved >= ?
  returning units_used`;
const RESERVE = "insert into reservations (reservation_id, stack_id, units) values (?, ?, ?)";

/**
 * The stack's units used once the reservation is held, or undefined when the stack does not allow it.
 *
 * The reservation is committed without a sync of its own even under `synchronous = FULL`: a power cut can lose it,
 * which is what a restart does to it anyway (`releaseDanglingReservations` drops every reservation before the node
 * serves), and no answer or receipt goes out on it. It survives kill -9 like every commit (it is in the operating
 * system's cache), and the leaf's commit syncs the log, this reservation's frames included, before the answer
 * is sent. One sync per request instead of two. It runs on the hot path's second connection, which stays at
 * `synchronous = normal` (`libsqlDialect.ts`; `openSqlite.ts` refuses a database not in WAL mode, where `normal`
 * could corrupt the file on a power cut), so the main connection's level never changes.
 *
 * Under `synchronous = normal` the same transaction records the stack as live (`liveStacks.ts`), whose row's sync
 * then runs while the engine does.
 */
export function holdOnSqlite(
  connection: SqliteConnection,
  input: { id: string; stackId: bigint; nodeId: bigint; units: bigint; nonce: bigint; nowSeconds: bigint },
): Promise<bigint | undefined> {
  return connection.relaxedExclusive((_db, prepare) => {
    refuseAfterFailedSync(connection);
    const live = liveStacksOf(connection);
    let inserted = false;
    const used = hold(prepare, input, (stackId) => {
      if (live) inserted = live.mark(prepare, stackId);
    });
    if (used !== undefined) live?.held(input.stackId, inserted);
    return used;
  });
}

function hold(
  prepare: (sql: string) => Database.Statement,
  input: { id: string; stackId: bigint; nodeId: bigint; units: bigint; nonce: bigint; nowSeconds: bigint },
  alsoOnHold: (stackId: bigint) => void,
): bigint | undefined {
  return immediate(prepare, () => {
    const row = prepare(HOLD).get(
      toSqlite(input.units),
      toSqlite(input.stackId),
      toSqlite(input.nodeId),
      toSqlite(input.nowSeconds),
      toSqlite(input.nonce),
      toSqlite(input.units),
    ) as { units_used: bigint } | undefined;
    if (!row) return undefined;
    prepare(RESERVE).run(input.id, toSqlite(input.stackId), toSqlite(input.units));
    alsoOnHold(input.stackId);
    return row.units_used;
  });
}

const FIND = "select stack_id, units from reservations where reservation_id = ?";
const ADD = `update stacks set units_reserved = units_reserved - ?, units_used = units_used + ?,
    leaf_count = leaf_count + 1, updated_at = current_timestamp
  where stack_id = ? and leaf_count = ? and units_used = ? and units_used + ? + units_reserved - ? <= units_bought`;
const WHERE = "select 1 as one from stacks where stack_id = ? and leaf_count = ? and units_used = ?";
const DROP = "delete from reservations where reservation_id = ?";
const LEAF = `insert into leaves (stack_id, leaf_index, req_hash, resp_hash, leaf_hash, units, cumulative_units, seed,
    nonce, request, response) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

export interface CommitOnSqlite {
  reservationId: string;
  usedBefore: bigint;
  units: bigint;
  nonce: bigint;
  reqHash: string;
  respHash: string;
  leafHash: string;
  seed: bigint;
  request: string;
  response: string | null;
}

export type CommitOutcome =
  | { outcome: "committed" | "over"; stackId: bigint; heldUnits: bigint }
  | { outcome: "no_reservation" | "moved" };

/**
 * `commit_leaf` (migration 0011) on SQLite: finds the reservation, adds the units to the stack only where it is
 * still at the reserved nonce and running total and the stack can pay, then drops the reservation and inserts the
 * leaf; changes nothing otherwise (`over`: the units outgrew both; `moved`: the stack is elsewhere). Under
 * `synchronous = normal` it runs on the hot path's connection (the leaf is synced off the thread, just after its
 * answer: `accounting.ts`). Under `synchronous = full` it runs on the main connection and first checks that its
 * level is still full (nothing in the node changes it; should anything have): it restores it, or refuses with
 * `DatabaseModeError` rather than commit unsynced.
 */
export function commitOnSqlite(connection: SqliteConnection, input: CommitOnSqlite): Promise<CommitOutcome> {
  if (connection.synchronous === "normal")
    return connection.relaxedExclusive((_db, prepare) => {
      refuseAfterFailedSync(connection);
      return commitLeaf(prepare, input);
    });
  return connection.exclusive((db, prepare) => {
    refuseAfterFailedSync(connection);
    if (pragmaValue(db, "synchronous") !== 2n) requireSynchronous(db, "full");
    return commitLeaf(prepare, input);
  });
}

function commitLeaf(prepare: (sql: string) => Database.Statement, input: CommitOnSqlite): CommitOutcome {
  return immediate(prepare, (): CommitOutcome => {
    const held = prepare(FIND).get(input.reservationId) as { stack_id: string; units: bigint } | undefined;
    if (!held) return { outcome: "no_reservation" };
    const stackId = BigInt(held.stack_id);
    const nonce = toSqlite(input.nonce);
    const usedBefore = toSqlite(input.usedBefore);
    const added = prepare(ADD).run(
      held.units,
      toSqlite(input.units),
      held.stack_id,
      nonce,
      usedBefore,
      toSqlite(input.units),
      held.units,
    );
    if (added.changes !== 1) {
      const there = prepare(WHERE).get(held.stack_id, nonce, usedBefore);
      return there ? { outcome: "over", stackId, heldUnits: held.units } : { outcome: "moved" };
    }
    prepare(DROP).run(input.reservationId);
    prepare(LEAF).run(
      held.stack_id,
      nonce,
      input.reqHash,
      input.respHash,
      input.leafHash,
      toSqlite(input.units),
      toSqlite(input.usedBefore + input.units),
      toSqlite(input.seed),
      nonce,
      input.request,
      input.response,
    );
    return { outcome: "committed", stackId, heldUnits: held.units };
  });
}

/**
 * `work` in one `begin immediate` transaction, as libsql's `db.transaction(work).immediate()` runs it (commit, or
 * roll back and rethrow), with the three statements prepared once per connection instead of parsed each time.
 */
function immediate<T>(prepare: (sql: string) => Database.Statement, work: () => T): T {
  prepare("begin immediate").run();
  try {
    const result = work();
    prepare("commit").run();
    return result;
  } catch (error) {
    prepare("rollback").run();
    throw error;
  }
}
