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

type Statement = Database.Statement;

/** Prepared statements kept per SQL text; Kysely's SQL for one query shape is always the same text. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * The one libsql connection, handed to one holder at a time: a Kysely transaction keeps it from `begin` to
 * `commit`, and `exclusive` runs synchronous work on it between two holders (the request hot path).
 */
export class SqliteConnection implements DatabaseConnection {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, { statement: Statement; reader: boolean }>();
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  /** `full` or `normal`: what each commit syncs (`openSqlite.ts`). */
  readonly synchronous: "full" | "normal";

  constructor(db: Database.Database, synchronous: "full" | "normal") {
    this.#db = db;
    this.synchronous = synchronous;
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
      return work(this.#db, (sql) => this.#prepare(sql).statement);
    } finally {
      release();
    }
  }

  #prepare(sql: string) {
    let cached = this.#statements.get(sql);
    if (!cached) {
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.clear();
      const statement = this.#db.prepare(sql);
      cached = { statement, reader: statement.reader };
      this.#statements.set(sql, cached);
    }
    return cached;
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { statement, reader } = this.#prepare(compiledQuery.sql);
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
    this.#db.close();
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
