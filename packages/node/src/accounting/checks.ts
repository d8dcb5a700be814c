import { type Hash, InvalidInputError } from "@atoma/core";

const MAX_INT64 = (1n << 63n) - 1n;
const MAX_UINT256 = (1n << 256n) - 1n;

/** A count stored in a `bigint` column: 0 ≤ value < 2^63 (and ≥ 1 when `positive`). */
export function checkCount(name: string, value: bigint, positive = false): bigint {
  if (typeof value !== "bigint" || value < (positive ? 1n : 0n) || value > MAX_INT64)
    throw new InvalidInputError(`${name} must be a whole number from ${positive ? 1 : 0} to 2^63-1`);
  return value;
}

/** A uint256 value (ids, nonces, prices). */
export function checkUint256(name: string, value: bigint): bigint {
  if (typeof value !== "bigint" || value < 0n || value > MAX_UINT256)
    throw new InvalidInputError(`${name} must be a uint256`);
  return value;
}

/** A 32-byte hash, stored lowercase. */
export function checkHash(name: string, value: string): Hash {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new InvalidInputError(`${name} must be 0x followed by 64 hex digits`);
  return value.toLowerCase() as Hash;
}

/**
 * The JSON text a leaf column keeps. `JSON.stringify` escapes every control character (NUL included) and every
 * unpaired surrogate, so the text is valid UTF-8 any database stores, and parses back to the same value.
 */
export function checkJson(name: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw new InvalidInputError(`${name} must be a JSON value`);
  return text;
}
