import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStateDatabase, type StateDatabase } from "../../src/db/openStateDatabase.js";
import { dropSchema } from "../../src/devnet/dropSchema.js";

/** One database the shared suites run against: `open()` may be called again to reopen the same data. */
export interface TestDatabase {
  name: "embedded" | "pglite" | "postgres";
  open(): Promise<StateDatabase>;
  /** Deletes everything it created. */
  dispose(): Promise<void>;
}

export function embeddedTestDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), "atoma-state-"));
  return {
    name: "embedded",
    open: () => openStateDatabase({ kind: "embedded", dir: join(dir, "db") }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The embedded PGlite engine (`database.engine = "pglite"`) that nodes from before the SQLite store wrote. */
export function pgliteTestDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), "atoma-pglite-"));
  return {
    name: "pglite",
    open: () => openStateDatabase({ kind: "embedded", engine: "pglite", dir: join(dir, "db") }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh schema on the PostgreSQL server at `url`, so parallel runs never collide. */
export function postgresTestDatabase(url: string): TestDatabase {
  const schema = `atoma_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  return {
    name: "postgres",
    open: () => openStateDatabase({ kind: "postgres", url, schema, poolSize: 10 }),
    dispose: () => dropSchema(url, schema),
  };
}

/** PostgreSQL's URL for tests (`.ci/run` sets it), or undefined when these tests must be skipped. */
export const databaseUrl = process.env.DATABASE_URL || undefined;

/**
 * The dialects the shared suites run on: embedded SQLite and PGlite always, PostgreSQL when `DATABASE_URL` is set.
 */
export function testDatabaseFactories(): {
  name: string;
  make: () => TestDatabase;
  skip: string | undefined;
}[] {
  if (databaseUrl === undefined)
    process.stderr.write(
      "DATABASE_URL is not set: the PostgreSQL runs of the node's database suites are skipped\n",
    );
  return [
    { name: "embedded", make: embeddedTestDatabase, skip: undefined },
    { name: "pglite", make: pgliteTestDatabase, skip: undefined },
    {
      name: "postgres",
      make: () => postgresTestDatabase(databaseUrl!),
      skip:
        databaseUrl === undefined
          ? "DATABASE_URL is not set: skipping the PostgreSQL run (set it, e.g. postgres://postgres@127.0.0.1:5432/test)"
          : undefined,
    },
  ];
}
