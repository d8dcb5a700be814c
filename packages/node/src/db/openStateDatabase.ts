import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Logger, silentLogger } from "@atoma/core";
import { openPglite } from "@atoma/embedded-db";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { EmbeddedDatabaseConfig, PostgresDatabaseConfig } from "../config/loadConfig.js";
import { redactUrl } from "../config/redact.js";
import { DatabaseError, DatabaseModeError, LegacyDatabaseError } from "../errors.js";
import { acquireDirLock } from "./dirLock.js";
import { nodeMigrations } from "./migrations.js";
import { PGlitePool } from "./pglitePool.js";
import type { NodeDatabase } from "./schema.js";
import { openSqlite, SQLITE_FILE, sqliteConnectionOf, sqliteMigrations } from "./sqlite/openSqlite.js";
import { markLost, markRunning, markStopped, mayHaveLostCommits } from "./sqlite/runningMarker.js";
import type { WalSync } from "./sqlite/walSync.js";
import { pgliteParsers, pgTypes } from "./typeParsers.js";

export type NodeDb = Kysely<NodeDatabase>;

/**
 * The embedded database's settings. Its buffer pool lives in PGlite's WebAssembly memory and counts fully toward
 * the node's resident memory: PGlite's default of 128 MB is most of an idle node, while the node's working set
 * (its stacks and their latest leaves) fits in far less and the OS caches the rest of the files.
 */
const EMBEDDED_SETTINGS = { shared_buffers: "16MB" } as const;

/** The node's state database, migrated and ready; `close()` ends every connection (and frees the embedded lock). */
export interface StateDatabase {
  db: NodeDb;
  kind: "embedded" | "postgres";
  /** The SQL the database speaks: SQLite (the embedded default) or PostgreSQL (a server, or PGlite). */
  dialect: "sqlite" | "postgres";
  /**
   * The previous process on this embedded database stopped uncleanly in a way that may have lost commits it had
   * acknowledged (`runningMarker.ts`): the stacks still live must be closed (`recoverLiveStacks.ts`). False on
   * PostgreSQL and PGlite, and after a run under `synchronous = full`.
   */
  mayHaveLostCommits: boolean;
  /**
   * Records that a node process serves from this database (SQLite: the running marker, removed by a clean
   * `close()`). Call it once start-up recovery is done and durable.
   */
  markRunning(): void;
  close(): Promise<void>;
}

export interface OpenStateDatabaseOptions {
  logger?: Logger | undefined;
  /** SQLite: how the log's file is flushed (`WalSync`); tests pass one they can pause or fail. */
  datasync?: ConstructorParameters<typeof WalSync>[1];
}

/**
 * Opens the embedded database (SQLite in a directory, one process at a time; PGlite when the config asks for it) or
 * PostgreSQL by URL (tables in the configured schema, created if missing), then runs the migrations. Throws
 * `DatabaseError` with any URL redacted, `LegacyDatabaseError` for a PGlite directory opened as SQLite.
 */
export async function openStateDatabase(
  config: EmbeddedDatabaseConfig | PostgresDatabaseConfig,
  options: OpenStateDatabaseOptions = {},
): Promise<StateDatabase> {
  const logger = (options.logger ?? silentLogger).child({ module: "database" });
  const opened =
    config.kind === "embedded" ? await openEmbedded(config, options) : await openPostgres(config);
  try {
    const { error, results } = await new Migrator({
      db: opened.db,
      provider: opened.dialect === "sqlite" ? sqliteMigrations : nodeMigrations,
      // Kysely finds its migration tables by name in any schema unless told which: two nodes on one server
      // would otherwise see each other's.
      ...(config.kind === "postgres" ? { migrationTableSchema: config.schema } : {}),
    }).migrateToLatest();
    if (error) throw error;
    const applied = (results ?? [])
      .filter((result) => result.status === "Success")
      .map((r) => r.migrationName);
    logger.debug({ migrationsApplied: applied }, "migrations applied");
    logger.info({ kind: opened.kind, migrationsApplied: applied.length }, "state database ready");
  } catch (cause) {
    await opened.close();
    throw new DatabaseError("migrating the state database failed", { cause });
  }
  return opened;
}

async function openEmbedded(
  config: EmbeddedDatabaseConfig,
  options: OpenStateDatabaseOptions,
): Promise<StateDatabase> {
  mkdirSync(config.dir, { recursive: true, mode: 0o700 });
  const unlock = acquireDirLock(`${config.dir}.lock`);
  const engine = config.engine ?? "sqlite";
  let db: Kysely<NodeDatabase>;
  const synchronous = config.synchronous ?? "normal";
  let lost = false;
  try {
    checkEngine(config.dir, engine);
    lost = engine === "sqlite" && mayHaveLostCommits(config.dir);
    if (engine === "sqlite")
      db = openSqlite(config.dir, synchronous, options.datasync ? { datasync: options.datasync } : {});
    else {
      const pglite = await openPglite(config.dir, { parsers: pgliteParsers, settings: EMBEDDED_SETTINGS });
      db = new Kysely<NodeDatabase>({ dialect: new PostgresDialect({ pool: new PGlitePool(pglite) }) });
    }
  } catch (cause) {
    unlock();
    if (cause instanceof LegacyDatabaseError || cause instanceof DatabaseModeError) throw cause;
    throw new DatabaseError("cannot open the embedded database", { cause, details: config.dir });
  }
  let closed: Promise<void> | undefined;
  let running = false;
  const wal = sqliteConnectionOf(db)?.wal;
  // A failed sync may have dropped acknowledged commits: the next start must close the live stacks, even on this boot.
  wal?.onFailure(() => {
    if (!running) return;
    try {
      markLost(config.dir);
    } catch {
      // the run file is gone already, which is enough for the next start on this boot
    }
  });
  return {
    db,
    kind: "embedded",
    dialect: engine === "sqlite" ? "sqlite" : "postgres",
    mayHaveLostCommits: lost,
    markRunning: () => {
      if (engine !== "sqlite") return;
      markRunning(config.dir, synchronous);
      running = true;
    },
    close: () => {
      closed ??= db
        .destroy()
        .then(() => {
          if (running && !wal?.failure) markStopped(config.dir);
        })
        .finally(unlock);
      return closed;
    },
  };
}

async function openPostgres(config: PostgresDatabaseConfig): Promise<StateDatabase> {
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    options: `-c search_path=${config.schema}`,
    application_name: "atoma-node",
    types: pgTypes,
  });
  // An idle client's network error must not crash the process; the next query reports it.
  pool.on("error", () => {});
  const db = new Kysely<NodeDatabase>({ dialect: new PostgresDialect({ pool }) });
  // One node process per schema: a session-level advisory lock, held on its own connection until close().
  const holder = new pg.Client({ connectionString: config.url, application_name: "atoma-node-lock" });
  holder.on("error", () => {});
  try {
    await sql`create schema if not exists ${sql.id(config.schema)}`.execute(db);
    await holder.connect();
  } catch (cause) {
    await db.destroy();
    await holder.end().catch(() => {});
    throw new DatabaseError(`cannot reach PostgreSQL at ${redactUrl(config.url)}`, { cause });
  }
  const { rows } = await holder.query<{ locked: boolean }>(
    "select pg_try_advisory_lock(hashtextextended($1, 0)) as locked",
    [`atoma-node:${config.schema}`],
  );
  if (!rows[0]?.locked) {
    await db.destroy();
    await holder.end();
    throw new DatabaseError(`schema "${config.schema}" is in use by another node process`);
  }
  let closed: Promise<void> | undefined;
  return {
    db,
    kind: "postgres",
    dialect: "postgres",
    mayHaveLostCommits: false,
    markRunning: () => {},
    close: () => {
      closed ??= db.destroy().finally(() => holder.end());
      return closed;
    },
  };
}

/**
 * A directory holds one engine's files: PGlite's (`PG_VERSION`, from nodes before the SQLite store) or SQLite's.
 * Opening one as the other would start an empty database beside the node's stacks and leaves, so it is refused.
 */
function checkEngine(dir: string, engine: "sqlite" | "pglite"): void {
  const pglite = existsSync(join(dir, "PG_VERSION"));
  const sqlite = existsSync(join(dir, SQLITE_FILE));
  if (engine === "sqlite" && pglite)
    throw new LegacyDatabaseError(
      `${dir} holds a PGlite database written by an older node; set database.engine = "pglite" ` +
        "(ATOMA_NODE_DATABASE_ENGINE=pglite) to keep serving from it, or give database.dir a new directory",
    );
  if (engine === "pglite" && sqlite)
    throw new LegacyDatabaseError(
      `${dir} holds a SQLite database; remove database.engine = "pglite" (ATOMA_NODE_DATABASE_ENGINE) to open it`,
    );
}
