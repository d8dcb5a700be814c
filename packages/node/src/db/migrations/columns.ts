import { type CreateTableBuilder, sql } from "kysely";

/** Ids and amounts the contracts hold as uint256. */
export const uint256 = sql`numeric(78, 0)`;
export const now = sql`now()`;

/** When a row was made and last changed. */
export function timestamps<T extends string, C extends string>(table: CreateTableBuilder<T, C>) {
  return table
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(now))
    .addColumn("updated_at", "timestamptz", (c) => c.notNull().defaultTo(now));
}

/** A duty's failed attempts and the last one's error, then its timestamps. */
export function retryColumns<T extends string, C extends string>(table: CreateTableBuilder<T, C>) {
  return table
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error", "text")
    .$call(timestamps);
}
