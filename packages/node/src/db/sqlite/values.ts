/**
 * What crosses between the node's JavaScript values and SQLite's. SQLite results carry no column types, so the
 * columns are converted back by name to the types `schema.ts` gives them, the types PostgreSQL's parsers give
 * (`typeParsers.ts`): uint256 ids are decimal `TEXT` (SQLite integers stop at int64) and come back `bigint`, as do
 * the `INTEGER` counters (read with safe integers); the few `integer` columns typed `number` come back numbers,
 * booleans booleans, the JSON columns parsed, the timestamps `Date`s.
 */

const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;

/** Columns stored as decimal text (uint256 in the contracts) that the node reads as `bigint`. */
const UINT256_TEXT = new Set([
  "stack_id",
  "task_id",
  "serving_node_id",
  "price_per_million",
  "nonce",
  "round",
  "request_id",
  "node_id",
  "dispute_id",
  "node_amount",
  "refunded",
  "fee_epoch",
  "leaf_index",
]);
const NUMBERS = new Set(["attempts", "seat_index", "n"]);
const BOOLEANS = new Set(["held_bonds_done"]);
const JSON_TEXT = new Set(["sampled_indices"]);
const TIMES = new Set(["created_at", "updated_at"]);

/**
 * A parameter as libsql binds it: a `bigint` outside int64 as its decimal text (libsql refuses it otherwise; a
 * `TEXT` column compares and stores it as that text), booleans as 0/1 (libsql aborts the process on a boolean),
 * dates as SQLite's `current_timestamp` text.
 */
export function toSqlite(value: unknown): unknown {
  if (typeof value === "bigint") return value < MIN_INT64 || value > MAX_INT64 ? value.toString() : value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Date)
    return value
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "");
  return value;
}

export function toSqliteAll(values: ReadonlyArray<unknown>): unknown[] {
  return values.map(toSqlite);
}

/** `YYYY-MM-DD HH:MM:SS` (UTC, what `current_timestamp` writes) as a `Date`. */
function timeOf(text: string): Date {
  return new Date(`${text.replace(" ", "T")}Z`);
}

function convert(column: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (UINT256_TEXT.has(column)) return typeof value === "string" ? BigInt(value) : value;
  if (NUMBERS.has(column)) return typeof value === "bigint" ? Number(value) : value;
  if (BOOLEANS.has(column)) return value === 1n || value === 1;
  if (JSON_TEXT.has(column)) return typeof value === "string" ? JSON.parse(value) : value;
  if (TIMES.has(column)) return typeof value === "string" ? timeOf(value) : value;
  return value;
}

/** A result row with its known columns converted in place (libsql builds a fresh object per row). */
export function fromSqlite<R extends Record<string, unknown>>(row: R): R {
  const target = row as Record<string, unknown>;
  for (const column of Object.keys(target)) {
    const value = target[column];
    const converted = convert(column, value);
    if (converted !== value) target[column] = converted;
  }
  return row;
}
