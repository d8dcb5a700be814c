import { InvalidInputError } from "./errors.js";

/** Prices are quoted per million compute units. */
export const UNITS_PER_PRICE = 1_000_000n;

/** Compute units of one request: every input token plus every output token (whitepaper §2.2). */
export function computeUnits(usage: {
  prompt_tokens: number;
  completion_tokens?: number | undefined;
}): bigint {
  const input = usage.prompt_tokens;
  const output = usage.completion_tokens ?? 0;
  if (!Number.isSafeInteger(input) || input < 0 || !Number.isSafeInteger(output) || output < 0)
    throw new InvalidInputError("token counts must be non-negative integers");
  return BigInt(input + output);
}

/** Cost of `units` at `pricePerMillion`, rounded up so a node is never paid less than it charged for. */
export function costOfUnits(units: bigint, pricePerMillion: bigint): bigint {
  if (units < 0n || pricePerMillion < 0n) throw new InvalidInputError("units and price must be non-negative");
  return (units * pricePerMillion + UNITS_PER_PRICE - 1n) / UNITS_PER_PRICE;
}
