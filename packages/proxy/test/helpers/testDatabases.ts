import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { GatewayDatabaseConfig } from "../../src/db/openGatewayDatabase.js";

/** A database the gateway's suites run on; `dispose()` removes everything it made. */
export interface TestDatabaseConfig {
  name: "embedded" | "postgres";
  config: GatewayDatabaseConfig;
  dispose(): Promise<void>;
}

/** PostgreSQL's URL for tests (`.ci/run` sets it), or undefined when those runs are skipped. */
export const databaseUrl = process.env.DATABASE_URL || undefined;

function embedded(): TestDatabaseConfig {
  const dir = mkdtempSync(join(tmpdir(), "atoma-proxy-"));
  return {
    name: "embedded",
    config: { kind: "embedded", dir: join(dir, "db") },
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A fresh schema, so parallel runs never meet. */
function postgres(url: string): TestDatabaseConfig {
  const schema = `atoma_proxy_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  return {
    name: "postgres",
    config: { kind: "postgres", url, schema, poolSize: 20 },
    dispose: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop schema if exists "${schema}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Embedded always; PostgreSQL when `DATABASE_URL` is set (said on stderr when it is not). */
export function testDatabases(): { name: string; make: () => TestDatabaseConfig; skip: boolean }[] {
  if (databaseUrl === undefined)
    process.stderr.write(
      "DATABASE_URL is not set: the PostgreSQL runs of the gateway's suites are skipped\n",
    );
  return [
    { name: "embedded", make: embedded, skip: false },
    { name: "postgres", make: () => postgres(databaseUrl ?? ""), skip: databaseUrl === undefined },
  ];
}
