import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from "kysely";
import type Database from "libsql";
import { NodeLifecycleError } from "../../errors.js";
import { fromSqlite, toSqliteAll } from "./values.js";
import type { WalSync } from "./walSync.js";

type Statement = Database.Statement;

/** Prepared statements kept per SQL text; Kysely's SQL for one query shape is always the same text. */
const STATEMENT_CACHE_SIZE = 500;

/** Prepared statements of one libsql connection, kept per SQL text. */
class StatementCache {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, { statement: Statement; reader: boolean }>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  get(sql: string) {
    let cached = this.#statements.get(sql);
    if (!cached) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear();
      const statement = this.#db.prepare(sql);
      cached = { statement, reader: statement.reader };
      this.#statements.set(sql, cached);
    }
    return cached;
  }

  clear(): void {
    this.#statements.clear();
  }
}

/**
 * The node's libsql connection, handed to one holder at a time: a Kysely transaction keeps it from `begin` to
 * `commit`, and `exclusive` runs synchronous work on it between two holders. The request hot path's transactions
 * run the same way on a second connection to the same file that stays at `synchronous = normal` (`relaxedExclusive`),
 * so the main one never changes level: one holder at a time across both, so neither ever waits on the other's locks.
 */
export class SqliteConnection implements DatabaseConnection {
  readonly #db: Database.Database;
  readonly #statements: StatementCache;
  readonly #relaxed: Database.Database;
  readonly #relaxedStatements: StatementCache;
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  /** `full` or `normal`: what each commit syncs (`openSqlite.ts`). */
  readonly synchronous: "full" | "normal";
  /** Syncs the write-ahead log off the thread (`walSync.ts`); set where the file has one. */
  readonly wal: WalSync | undefined;

  /** `relaxed`: a second connection to `db`'s file, at `synchronous = normal` (`openSqlite.ts`). */
  constructor(
    db: Database.Database,
    relaxed: Database.Database,
    synchronous: "full" | "normal",
    wal?: WalSync,
  ) {
    this.#db = db;
    this.#statements = new StatementCache(db);
    this.#relaxed = relaxed;
    this.#relaxedStatements = new StatementCache(relaxed);
    this.synchronous = synchronous;
    this.wal = wal;
  }

  /** Waits for the connection; the returned function gives it back. */
  async acquire(): Promise<() => void> {
    if (this.#closed) throw new NodeLifecycleError("the embedded database is closed");
    let release!: () => void;
    const previous = this.#tail;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  /** Runs `work` with the raw database once no one else holds the connection. */
  async exclusive<T>(work: (db: Database.Database, prepare: (sql: string) => Statement) => T): Promise<T> {
    const release = await this.acquire();
    try {
      return work(this.#db, (sql) => this.#statements.get(sql).statement);
    } finally {
      release();
    }
  }

  /**
   * `exclusive` on the second connection, whose commits SQLite does not sync (`synchronous = normal`): for the hot
   * path's transactions only (`sqliteHotPath.ts`, `liveStacks.ts`), which say what makes them durable.
   */
  async relaxedExclusive<T>(
    work: (db: Database.Database, prepare: (sql: string) => Statement) => T,
  ): Promise<T> {
    const release = await this.acquire();
    try {
      return work(this.#relaxed, (sql) => this.#relaxedStatements.get(sql).statement);
    } finally {
      release();
    }
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { statement, reader } = this.#statements.get(compiledQuery.sql);
    const parameters = toSqliteAll(compiledQuery.parameters);
    if (reader) {
      const rows = statement.all(parameters) as Record<string, unknown>[];
      return { rows: rows.map(fromSqlite) as R[] };
    }
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  // biome-ignore lint/correctness/useYield: streaming is not offered on this dialect.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new NodeLifecycleError("streaming queries are not supported on the embedded database");
  }

  /** Waits for the current holder and everyone queued, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail;
    this.#statements.clear();
    this.#relaxedStatements.clear();
    // SQLite's closing checkpoint syncs too; this makes "closed cleanly" not depend on that checkpoint completing.
    await this.wal?.sync().catch(() => {});
    this.#relaxed.close();
    this.#db.close();
    await this.wal?.close();
  }
}

class LibsqlDriver implements Driver {
  readonly #connection: SqliteConnection;
  #release: (() => void) | undefined;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#release = await this.#connection.acquire();
    return this.#connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("commit"));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("rollback"));
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.#connection.close();
  }
}

/** Kysely's SQLite dialect over one libsql connection, with the node's value conversions (`values.ts`). */
export class LibsqlDialect implements Dialect {
  constructor(private readonly connection: SqliteConnection) {}

  createAdapter(): DialectAdapter {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new LibsqlDriver(this.connection);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  // biome-ignore lint/suspicious/noExplicitAny: Kysely's own dialects take any database here.
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
