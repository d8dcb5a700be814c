import { parseEther } from "viem";
import { CliUsageError } from "./errors.js";

const MAX_UINT = (1n << 256n) - 1n;

/** Parses an amount of TOMA in decimal (`1000`, `0.5`, at most 18 decimals) into wei. */
export function tomaOption(name: string) {
  return (value: string): bigint => {
    if (!/^\d{1,60}(\.\d{1,18})?$/.test(value))
      throw new CliUsageError(`${name} must be an amount of TOMA such as 1000 or 0.5, got "${value}"`);
    return parseEther(value);
  };
}

/** Parses a whole number that may exceed 2^53 (ids, units) into a bigint within `[min, max]`. */
export function bigintOption(name: string, min = 0n, max = MAX_UINT) {
  return (value: string): bigint => {
    const parsed = /^\d{1,78}$/.test(value) ? BigInt(value) : undefined;
    if (parsed === undefined || parsed < min || parsed > max)
      throw new CliUsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    return parsed;
  };
}
