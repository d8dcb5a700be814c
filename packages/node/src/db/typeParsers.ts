import pg from "pg";

/** PostgreSQL type ids read as `bigint`: int8 (counters) and numeric (uint256 ids, nonces, wei; sums). */
export const BIGINT_TYPE_IDS = [20, 1700] as const;

const toBigInt = (text: string) => BigInt(text);

/**
 * Both drivers read int8 and numeric as `bigint`, so every query returns the same JS types on PGlite and on
 * PostgreSQL. The node stores only whole numbers in numeric columns (never `avg` or fractions).
 */
export const pgliteParsers = Object.fromEntries(BIGINT_TYPE_IDS.map((id) => [id, toBigInt]));

export const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if ((BIGINT_TYPE_IDS as readonly number[]).includes(oid)) return toBigInt;
    return format === "binary" ? pg.types.getTypeParser(oid, "binary") : pg.types.getTypeParser(oid, "text");
  },
} as pg.CustomTypesConfig;
