import type { PGlite } from "@electric-sql/pglite";
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import { NodeLifecycleError } from "../errors.js";

type Command = PostgresQueryResult<unknown>["command"];
const COMMANDS = new Set<string>(["UPDATE", "DELETE", "INSERT", "SELECT", "MERGE"]);

/** The statement's verb, which Kysely uses to decide whether the affected-row count means anything. */
function commandOf(sql: string): Command {
  const verb = /^\s*(?:with\b[\s\S]*?\)\s*)?(\w+)/i.exec(sql)?.[1]?.toUpperCase() ?? "SELECT";
  return (COMMANDS.has(verb) ? verb : "SELECT") as Command;
}

/**
 * A `pg.Pool`-shaped pool over one PGlite instance, so Kysely's own PostgreSQL dialect runs on the embedded
 * database. PGlite is a single connection: the pool hands it to one holder at a time (a transaction keeps it
 * from BEGIN to COMMIT), the others wait in line.
 */
export class PGlitePool implements PostgresPool {
  #tail: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(private readonly db: PGlite) {}

  async connect(): Promise<PostgresPoolClient> {
    if (this.#ended) throw new NodeLifecycleError("the embedded database is closed");
    let release!: () => void;
    const previous = this.#tail;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    let released = false;
    const db = this.db;
    const client = {
      async query(sql: string, parameters: ReadonlyArray<unknown>) {
        const result = await db.query(sql, [...parameters]);
        return { command: commandOf(sql), rowCount: result.affectedRows ?? 0, rows: result.rows };
      },
      release() {
        if (released) return;
        released = true;
        release();
      },
    };
    return client as PostgresPoolClient;
  }

  /** Waits for the current holder and everyone queued, then closes PGlite. */
  async end(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#tail;
    await this.db.close();
  }
}
