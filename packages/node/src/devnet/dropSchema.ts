import pg from "pg";

/** Drops a PostgreSQL schema and everything in it (a test node's tables). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The names are ours (lowercase letters, digits, underscores), so quoting them is enough.
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}
