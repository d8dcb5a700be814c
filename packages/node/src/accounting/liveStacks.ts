import type Database from "libsql";
import type { SqliteConnection } from "../db/sqlite/libsqlDialect.js";
import { toSqlite } from "../db/sqlite/values.js";
import type { WalSync } from "../db/sqlite/walSync.js";
import { DatabaseSyncFailedError } from "../errors.js";

/**
 * SQLite under `synchronous = normal`: the stacks whose latest leaves may not all be on disk (`live_stacks`). A
 * leaf is synced just after its receipt goes out, so a power cut can lose a leaf its owner holds; signing another
 * leaf at that index later would be an equivocation the owner can prove. So before any receipt of a stack goes
 * out, the stack's row here is on disk: it is written in the reservation's transaction and synced while the engine
 * runs (only when the stack was not live already, so a client's requests in a row pay no sync). A stack leaves the
 * set once it has been idle for `LIVE_IDLE_MS` and a sync after its last leaf has finished. After a start that may
 * have lost commits, every stack still in the set is closed (`recoverLiveStacks.ts`).
 */
export const LIVE_IDLE_MS = 5_000;

const MARK = "insert into live_stacks (stack_id) values (?) on conflict (stack_id) do nothing";
const UNMARK = "delete from live_stacks where stack_id = ?";

interface Live {
  /** The sync of the stack's row: a receipt of the stack goes out only once it has finished. */
  synced: Promise<void>;
  inFlight: number;
  /** Bumped by each reservation: a retirement planned before one does not happen. */
  generation: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Once a sync of the log has failed, the node takes no more requests: the operating system may have dropped commits
 * it acknowledged, so no later sync can prove a leaf durable (a failed sync is final, `walSync.ts`).
 */
export function refuseAfterFailedSync(connection: SqliteConnection): void {
  const failure = connection.wal?.failure;
  if (failure) throw new DatabaseSyncFailedError({ cause: failure });
}

const perConnection = new WeakMap<SqliteConnection, LiveStacks>();

/** The live set of a SQLite connection whose log the node syncs itself (`normal`), or undefined. */
export function liveStacksOf(connection: SqliteConnection): LiveStacks | undefined {
  if (connection.synchronous !== "normal" || !connection.wal) return undefined;
  let live = perConnection.get(connection);
  if (!live) {
    live = new LiveStacks(connection, connection.wal);
    perConnection.set(connection, live);
  }
  return live;
}

export class LiveStacks {
  readonly #connection: SqliteConnection;
  readonly #wal: WalSync;
  readonly #live = new Map<bigint, Live>();

  constructor(connection: SqliteConnection, wal: WalSync) {
    this.#connection = connection;
    this.#wal = wal;
  }

  /** In the reservation's transaction: the stack's row. True when it was not there. */
  mark(prepare: (sql: string) => Database.Statement, stackId: bigint): boolean {
    return prepare(MARK).run(toSqlite(stackId)).changes === 1;
  }

  /**
   * Once the reservation's transaction has committed, still holding the connection (so no retirement can slip in
   * between): counts the request in flight and, for a stack that was not live, starts the sync of its row.
   */
  held(stackId: bigint, inserted: boolean): void {
    let entry = this.#live.get(stackId);
    if (!entry || inserted) {
      const synced = this.#wal.sync();
      synced.catch(() => {}); // awaited before the receipt; not an unhandled rejection meanwhile
      entry = {
        synced,
        inFlight: entry?.inFlight ?? 0,
        generation: entry?.generation ?? 0,
        timer: entry?.timer,
      };
      this.#live.set(stackId, entry);
    }
    entry.inFlight++;
    entry.generation++;
    clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** Resolves once the stack's row is on disk: before then, none of its receipts may go out. */
  async synced(stackId: bigint): Promise<void> {
    try {
      await this.#live.get(stackId)?.synced;
    } catch (cause) {
      throw new DatabaseSyncFailedError({ cause });
    }
    refuseAfterFailedSync(this.#connection); // an earlier row's sync succeeded, but a later one failed since
  }

  /** A request on the stack ended (its leaf committed, or its reservation released). */
  ended(stackId: bigint): void {
    const entry = this.#live.get(stackId);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    if (entry.inFlight > 0) return;
    const generation = entry.generation;
    entry.timer = setTimeout(() => {
      this.#retire(stackId, generation).catch(() => {}); // the row stays: the stack is closed if the machine goes down
    }, LIVE_IDLE_MS);
    entry.timer.unref();
  }

  async #retire(stackId: bigint, generation: number): Promise<void> {
    await this.#wal.sync(); // every leaf of the stack is on disk
    await this.#connection.relaxedExclusive((_db, prepare) => {
      const entry = this.#live.get(stackId);
      if (!entry || entry.inFlight > 0 || entry.generation !== generation) return;
      // Unsynced: a row a power cut brings back only closes a stack that lost nothing.
      prepare(UNMARK).run(toSqlite(stackId));
      this.#live.delete(stackId);
    });
  }
}
