import { join } from "node:path";
import { Kysely, type MigrationProvider } from "kysely";
import Database from "libsql";
import type { NodeDatabase } from "../schema.js";
import { LibsqlDialect, SqliteConnection } from "./libsqlDialect.js";
import { NoRowLocksPlugin } from "./noRowLocks.js";
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
    raw.defaultSafeIntegers(true);
    raw.exec("pragma journal_mode = wal");
    raw.exec(`pragma synchronous = ${synchronous === "full" ? "full" : "normal"}`);
    raw.exec("pragma foreign_keys = on");
    raw.exec("pragma busy_timeout = 5000");
  } catch (error) {
    raw.close();
    throw error;
  }
  const connection = new SqliteConnection(raw, synchronous);
  const db = new Kysely<NodeDatabase>({
    dialect: new LibsqlDialect(connection),
    plugins: [new NoRowLocksPlugin()],
  });
  connections.set(db, connection);
  return db;
}
