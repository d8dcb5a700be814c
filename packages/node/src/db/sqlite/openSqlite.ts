import { join } from "node:path";
import { Kysely, type MigrationProvider } from "kysely";
import Database from "libsql";
import { DatabaseModeError } from "../../errors.js";
import type { NodeDatabase } from "../schema.js";
import { IntegerColumnsPlugin } from "./integerColumns.js";
import { LibsqlDialect, SqliteConnection } from "./libsqlDialect.js";
import { NoRowLocksPlugin } from "./noRowLocks.js";
import { pragmaValue } from "./pragma.js";
import { sqliteSchema } from "./schemaMigration.js";

/** The file the node's SQLite database lives in, inside the configured directory. */
export const SQLITE_FILE = "state.db";

/**
 * How a commit reaches the disk. `full` (the default) syncs the write-ahead log before each commit returns, so an
 * acknowledged reservation or leaf survives a killed process and a power cut; `normal` syncs it only at checkpoints,
 * which survives a killed process (the commit is in the operating system's cache) but may lose the last commits
 * to a power cut.
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
    return { "0012_sqlite_schema": sqliteSchema };
  },
};

/**
 * Opens (creating it if missing) `dir/state.db` with libsql in WAL mode. One process at a time: the caller holds
 * the directory lock. `busy_timeout` only matters to a tool that opens the file alongside (the node itself uses
 * one connection, so it never waits on its own locks).
 */
export function openSqlite(dir: string, synchronous: SqliteSynchronous = "full"): Kysely<NodeDatabase> {
  const raw = new Database(join(dir, SQLITE_FILE));
  try {
    configureSqlite(raw, synchronous);
  } catch (error) {
    raw.close();
    throw error;
  }
  const connection = new SqliteConnection(raw, synchronous);
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
 * the hot path relaxes a reservation's commit to `synchronous = normal` (`sqliteHotPath.ts`), which is safe against
 * a power cut only in WAL mode (in a rollback journal it can corrupt the file). SQLite answers the previous mode
 * where it cannot enter WAL (a filesystem or VFS without shared memory, an in-memory file): the node then refuses to
 * start with `DatabaseModeError`. `synchronous` is read back too.
 */
export { pragmaValue };

export function configureSqlite(raw: Database.Database, synchronous: SqliteSynchronous): void {
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
