import type Database from "libsql";

/** The rows a pragma query returns, without the `_metadata` field libsql adds to each. */
export function pragmaValueRows(raw: Database.Database, pragma: string): Record<string, unknown>[] {
  const rows = raw.prepare(`pragma ${pragma}`).all() as Record<string, unknown>[];
  return rows.map(({ _metadata: _dropped, ...row }) => row);
}

/** The one value a single-valued pragma query returns. */
export function pragmaValue(raw: Database.Database, pragma: string): unknown {
  const [row] = pragmaValueRows(raw, pragma);
  return row === undefined ? undefined : Object.values(row)[0];
}
