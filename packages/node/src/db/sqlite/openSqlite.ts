import { join } from "node:path";
import { Kysely, type MigrationProvider } from "kysely";
import Database from "libsql";
import { DatabaseModeError } from "../../errors.js";
import type { NodeDatabase } from "../schema.js";
import { sqliteDeniedLeaves } from "./deniedLeavesMigration.js";
import { IntegerColumnsPlugin } from "./integerColumns.js";
import { LibsqlDialect, SqliteConnection } from "./libsqlDialect.js";
import { sqliteLiveStacks } from "./liveStacksMigration.js";
import { NoRowLocksPlugin } from "./noRowLocks.js";
import { pragmaValue } from "./pragma.js";
import { sqliteSchema } from "./schemaMigration.js";
import { WalSync } from "./walSync.js";

/** The file the node's SQLite database lives in, inside the configured directory. */
export const SQLITE_FILE = "state.db";

/**
 * How a request's commits reach the disk. `full` syncs the write-ahead log before each leaf's commit returns, on the
 * node's thread, so an acknowledged leaf survives a killed process and a power cut. `normal` (the default) runs
 * the request hot path's own transactions (`sqliteHotPath.ts`) on a second connection to the file at SQLite's
 * `synchronous = normal`: each survives a
 * killed process (it is in the operating system's cache), and the hot path syncs the log itself off the thread
 * (`walSync.ts`): a stack's row among the live stacks
 * before its first receipt goes out (while the engine runs), each leaf just after its answer. A power cut can then
 * lose only leaves whose sync had not finished, and the node closes the stacks that were live when it starts again
 * (`accounting/liveStacks.ts`, `runningMarker.ts`, docs/node-hot-path.md). Under both, every other commit (a
 * settlement's freeze before its transaction goes on chain, the event cursor, a used nonce) is synced before it
 * returns: the node's main connection stays at `synchronous = full` and never changes level.
 */
export type SqliteSynchronous = "full" | "normal";

const connections = new WeakMap<object, SqliteConnection>();

/** The SQLite connection under a Kysely instance opened by `openSqlite`, or undefined (PostgreSQL, PGlite). */
export function sqliteConnectionOf(db: Kysely<NodeDatabase>): SqliteConnection | undefined {
  return connections.get(db);
}

/** The migrations of a SQLite database, named apart from PostgreSQL's. */
export const sqliteMigrations: MigrationProvider = {
  async getMigrations() {
    return {
      "0012_sqlite_schema": sqliteSchema,
      "0013_sqlite_live_stacks": sqliteLiveStacks,
      "0014_sqlite_denied_leaves": sqliteDeniedLeaves,
    };
  },
};

/**
 * Opens (creating it if missing) `dir/state.db` with libsql in WAL mode. One process at a time: the caller holds
 * the directory lock. `busy_timeout` only matters to a tool that opens the file alongside: the node's two
 * connections (the main one at `full`, the hot path's at `normal`) are held by one holder at a time
 * (`SqliteConnection`), so the node never waits on its own locks.
 */
export function openSqlite(
  dir: string,
  synchronous: SqliteSynchronous = "normal",
  options: { datasync?: ConstructorParameters<typeof WalSync>[1] } = {},
): Kysely<NodeDatabase> {
  const raw = new Database(join(dir, SQLITE_FILE));
  let relaxedRaw: Database.Database | undefined;
  try {
    configureSqlite(raw);
    relaxedRaw = new Database(join(dir, SQLITE_FILE));
    configureSqlite(relaxedRaw, "normal");
  } catch (error) {
    relaxedRaw?.close();
    raw.close();
    throw error;
  }
  const connection = new SqliteConnection(
    raw,
    relaxedRaw,
    synchronous,
    new WalSync(join(dir, `${SQLITE_FILE}-wal`), options.datasync),
  );
  const db = new Kysely<NodeDatabase>({
    dialect: new LibsqlDialect(connection),
    plugins: [new NoRowLocksPlugin(), new IntegerColumnsPlugin(raw)],
  });
  connections.set(db, connection);
  return db;
}

/** SQLite's numeric `synchronous` levels. */
const SYNCHRONOUS_LEVEL = { normal: 1n, full: 2n } as const;

/**
 * Sets the connection's pragmas and checks what SQLite made of them. The write-ahead log is required, not assumed:
 * the hot path commits a reservation at `synchronous = normal` (`sqliteHotPath.ts`), which is safe against
 * a power cut only in WAL mode (in a rollback journal it can corrupt the file). SQLite answers the previous mode
 * where it cannot enter WAL (a filesystem or VFS without shared memory, an in-memory file): the node then refuses to
 * start with `DatabaseModeError`. The `synchronous` level set is read back too.
 */
export { pragmaValue };

/** `synchronous`: `full` for the node's connection, `normal` for the hot path's second one (`libsqlDialect.ts`). */
export function configureSqlite(raw: Database.Database, synchronous: SqliteSynchronous = "full"): void {
  raw.defaultSafeIntegers(true);
  const mode = pragmaValue(raw, "journal_mode = wal");
  if (typeof mode !== "string" || mode.toLowerCase() !== "wal")
    throw new DatabaseModeError(
      `the embedded database could not enter WAL mode (SQLite answered journal_mode = ${String(mode)}): put database.dir on a local filesystem that supports shared memory`,
    );
  requireSynchronous(raw, synchronous);
  raw.exec("pragma foreign_keys = on");
  raw.exec("pragma busy_timeout = 5000");
}

/** Sets `synchronous` and reads it back; `DatabaseModeError` when SQLite did not take it. */
export function requireSynchronous(raw: Database.Database, synchronous: SqliteSynchronous): void {
  raw.exec(`pragma synchronous = ${synchronous === "full" ? "full" : "normal"}`);
  const level = pragmaValue(raw, "synchronous");
  if (BigInt(level as bigint) !== SYNCHRONOUS_LEVEL[synchronous])
    throw new DatabaseModeError(
      `the embedded database did not take synchronous = ${synchronous} (it reads ${String(level)})`,
    );
}
