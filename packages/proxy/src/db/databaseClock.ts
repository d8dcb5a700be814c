import { type RawBuilder, sql } from "kysely";

/**
 * The database's clock in Unix milliseconds, read in the statement that uses it: one clock for every gateway sharing
 * the database, so a lease one writes is judged by the others on the same clock whatever their own clocks say.
 */
export function databaseNowMs(): RawBuilder<bigint> {
  return sql<bigint>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
}

/** `databaseNowMs()` plus `ms`: when a lease taken now for `ms` ends, on the database's clock. */
export function databaseMsFromNow(ms: number): RawBuilder<bigint> {
  return sql<bigint>`(extract(epoch from clock_timestamp()) * 1000)::bigint + ${Math.trunc(ms)}::bigint`;
}
