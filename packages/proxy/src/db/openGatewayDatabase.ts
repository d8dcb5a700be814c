import { mkdirSync } from "node:fs";
import { type Logger, silentLogger } from "@atoma/core";
import { Kysely, Migrator, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { GatewayDatabaseError } from "../errors.js";
import { asBigInt, BIGINT_OIDS } from "./bigintColumns.js";
import { EmbeddedPool } from "./embeddedPool.js";
import { holdLockFile } from "./lockFile.js";
import { gatewayMigrations } from "./migrations.js";
import { PgliteThread } from "./pgliteThread.js";
import type { GatewayDatabase } from "./schema.js";

export type GatewayDb = Kysely<GatewayDatabase>;

/** PGlite in a directory (one process at a time), the default. */
export type EmbeddedDatabaseConfig = { kind: "embedded"; dir: string };
/** PostgreSQL: any number of gateways may share one schema. */
export type PostgresDatabaseConfig = { kind: "postgres"; url: string; schema: string; poolSize: number };
export type GatewayDatabaseConfig = EmbeddedDatabaseConfig | PostgresDatabaseConfig;

export interface OpenedDatabase {
  db: GatewayDb;
  kind: GatewayDatabaseConfig["kind"];
  close(): Promise<void>;
}

/**
 * Shared buffers of 16 MB rather than PostgreSQL's 128 MB: PGlite touches them
 * all at start (about 70 MB resident), and the gateway's working set (keys, stacks, the last receipts) is far smaller.
 */
const EMBEDDED_SETTINGS = { shared_buffers: "16MB" } as const;

/** Where a PostgreSQL URL points, without its credentials or query. */
function whereTo(url: string): string {
  try {
    const { host, pathname } = new URL(url);
    return `${host}${pathname}`;
  } catch {
    return "(an unparsable URL)";
  }
}

/**
 * Opens the gateway's database and brings its tables up to date. Throws `GatewayDatabaseError`. `onLost` is told
 * when the embedded database's thread dies (`PgliteThread`): nothing can be written from then on.
 */
export async function openGatewayDatabase(
  config: GatewayDatabaseConfig,
  logger: Logger = silentLogger,
  onLost?: ((error: Error) => void) | undefined,
): Promise<OpenedDatabase> {
  const opened = config.kind === "embedded" ? await openEmbedded(config, onLost) : await openPostgres(config);
  try {
    const { error, results } = await new Migrator({
      db: opened.db,
      provider: gatewayMigrations,
      ...(config.kind === "postgres" ? { migrationTableSchema: config.schema } : {}),
    }).migrateToLatest();
    if (error) throw error;
    const applied = (results ?? []).filter((r) => r.status === "Success").length;
    logger.info(
      { module: "database", kind: opened.kind, migrationsApplied: applied },
      "gateway database ready",
    );
  } catch (cause) {
    await opened.close();
    throw new GatewayDatabaseError("migrating the gateway database failed", { cause });
  }
  return opened;
}

async function openEmbedded(
  config: EmbeddedDatabaseConfig,
  onLost: ((error: Error) => void) | undefined,
): Promise<OpenedDatabase> {
  mkdirSync(config.dir, { recursive: true, mode: 0o700 });
  const letGo = holdLockFile(`${config.dir}.lock`);
  let db: GatewayDb;
  try {
    const pglite = await PgliteThread.open(config.dir, EMBEDDED_SETTINGS, onLost);
    db = new Kysely({ dialect: new PostgresDialect({ pool: new EmbeddedPool(pglite) }) });
  } catch (cause) {
    letGo();
    throw new GatewayDatabaseError(`cannot open the embedded database in ${config.dir}`, { cause });
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= db.destroy().finally(letGo);
    return closing;
  };
  return { db, kind: "embedded", close };
}

async function openPostgres(config: PostgresDatabaseConfig): Promise<OpenedDatabase> {
  const types = {
    getTypeParser: (oid: number, format?: "text" | "binary") =>
      BIGINT_OIDS.includes(oid) ? asBigInt : pg.types.getTypeParser(oid, format ?? "text"),
  } as pg.CustomTypesConfig;
  const pool = new pg.Pool({
    connectionString: config.url,
    max: config.poolSize,
    options: `-c search_path=${config.schema}`,
    application_name: "atoma-proxy",
    types,
  });
  // A dropped idle connection must not crash the process: the next query reports it.
  pool.on("error", () => {});
  const db = new Kysely<GatewayDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`create schema if not exists ${sql.id(config.schema)}`.execute(db);
  } catch (cause) {
    await db.destroy();
    throw new GatewayDatabaseError(`cannot reach PostgreSQL at ${whereTo(config.url)}`, { cause });
  }
  let closing: Promise<void> | undefined;
  return {
    db,
    kind: "postgres",
    close: () => {
      closing ??= db.destroy();
      return closing;
    },
  };
}
