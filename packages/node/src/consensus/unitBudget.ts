import { checkCount } from "../accounting/checks.js";

const MAX_INT64 = (1n << 63n) - 1n;

/**
 * A request's `maxUnits` as the node keeps and uses it: the contract takes any non-zero `uint64`, the database's
 * integer columns hold int64 (SQLite's integer, PostgreSQL's `bigint`), so a value above 2^63-1 is clamped to it
 * (review M3). Nothing is lost: a seat's output is bounded by the engine's context and `maxOutputTokens`, far
 * below 2^63 units, so the clamped budget computes the same output and unit count as the full one (the root the
 * contract checks, `units ≤ maxUnits`, holds for both). Left unclamped, such a request (cheap at a low price)
 * made every insert of its row fail: on PostgreSQL the listener's whole range rolled back on every retry and no
 * later event was ever handled; on SQLite the value was stored as a lossy float.
 */
export function unitBudget(maxUnits: bigint): bigint {
  return checkCount("maxUnits", maxUnits > MAX_INT64 ? MAX_INT64 : maxUnits);
}
