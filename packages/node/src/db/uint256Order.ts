import { sql } from "kysely";

/**
 * The digit count of a uint256 column, to order by before the column itself: SQLite keeps uint256 values as
 * decimal text, which sorts "10" before "9"; ordering by length first sorts it as numbers on both dialects
 * (PostgreSQL's `numeric` prints without leading zeros too).
 */
export function uint256Digits(column: string) {
  return sql<number>`length(cast(${sql.ref(column)} as text))`;
}
