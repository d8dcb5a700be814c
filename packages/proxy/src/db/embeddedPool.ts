import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import { GatewayLifecycleError } from "../errors.js";
import type { EmbeddedQueries } from "./pgliteThread.js";

type Command = PostgresQueryResult<unknown>["command"];
const REPORTED = new Set(["UPDATE", "DELETE", "INSERT", "SELECT", "MERGE"]);

/** Kysely reads affected-row counts only for these verbs (a leading `with …)` is skipped). */
function verbOf(statement: string): Command {
  const verb = /^\s*(?:with\b[\s\S]*?\)\s*)?(\w+)/i.exec(statement)?.[1]?.toUpperCase() ?? "";
  return (REPORTED.has(verb) ? verb : "SELECT") as Command;
}

/**
 * PGlite (on its thread: `PgliteThread`) behind the `pg.Pool` interface Kysely's PostgreSQL dialect drives. PGlite has one connection, so each
 * `connect()` waits for the previous holder's `release()` (a transaction holds it from BEGIN to COMMIT).
 */
export class EmbeddedPool implements PostgresPool {
  #turn: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(private readonly pglite: EmbeddedQueries) {}

  async connect(): Promise<PostgresPoolClient> {
    if (this.#closed) throw new GatewayLifecycleError("the embedded database is closed");
    const waitFor = this.#turn;
    let handBack = () => {};
    this.#turn = new Promise<void>((resolve) => {
      handBack = resolve;
    });
    await waitFor;
    const pglite = this.pglite;
    let held = true;
    return {
      async query(statement: string, parameters: ReadonlyArray<unknown>) {
        const { rows, affectedRows } = await pglite.query(statement, [...parameters]);
        return { command: verbOf(statement), rowCount: affectedRows ?? 0, rows };
      },
      release() {
        if (!held) return;
        held = false;
        handBack();
      },
    } as PostgresPoolClient;
  }

  async end(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#turn;
    await this.pglite.close();
  }
}
