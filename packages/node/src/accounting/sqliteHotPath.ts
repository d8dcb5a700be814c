import type Database from "libsql";
import type { SqliteConnection } from "../db/sqlite/libsqlDialect.js";
import { pragmaValue, requireSynchronous } from "../db/sqlite/openSqlite.js";
import { toSqlite } from "../db/sqlite/values.js";

/**
 * The request hot path on SQLite: reserve and commit, each one `begin immediate` transaction of prepared statements
 * run synchronously while the node's one connection is held (no other transaction can interleave). They do what
 * the PostgreSQL statements in `accounting.ts` do (the reserve CTE, the `commit_leaf` function), with the same
 * conditions and outcomes; each is durable when it returns (`openSqlite.ts`).
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
 * is sent. One sync per request instead of two. `synchronous = full` is read back once restored (`openSqlite.ts`
 * refuses a database not in WAL mode, where `normal` could corrupt the file on a power cut).
 */
export function holdOnSqlite(
  connection: SqliteConnection,
  input: { id: string; stackId: bigint; nodeId: bigint; units: bigint; nonce: bigint; nowSeconds: bigint },
): Promise<bigint | undefined> {
  return connection.exclusive((db, prepare) => {
    const relax = connection.synchronous === "full";
    if (relax) db.exec("pragma synchronous = normal");
    try {
      return hold(db, prepare, input);
    } finally {
      if (relax) requireSynchronous(db, "full");
    }
  });
}

function hold(
  db: Database.Database,
  prepare: (sql: string) => Database.Statement,
  input: { id: string; stackId: bigint; nodeId: bigint; units: bigint; nonce: bigint; nowSeconds: bigint },
): bigint | undefined {
  return db
    .transaction(() => {
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
      return row.units_used;
    })
    .immediate();
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
 * `synchronous = full` it first checks that the level is still full (a reservation's relaxed commit that failed to
 * restore it leaves it `normal`): it restores it, or refuses with `DatabaseModeError` rather than commit unsynced.
 */
export function commitOnSqlite(connection: SqliteConnection, input: CommitOnSqlite): Promise<CommitOutcome> {
  return connection.exclusive((db, prepare) => {
    if (connection.synchronous === "full" && pragmaValue(db, "synchronous") !== 2n)
      requireSynchronous(db, "full");
    return db
      .transaction((): CommitOutcome => {
        const held = prepare(FIND).get(input.reservationId) as
          | { stack_id: string; units: bigint }
          | undefined;
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
      })
      .immediate();
  });
}
