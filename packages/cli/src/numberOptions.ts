import { CliUsageError } from "./errors.js";

/** Parses a finite decimal number option, naming the option when the value is not one. */
export function numberOption(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed))
      throw new CliUsageError(`${name} must be a number, got "${value}"`);
    return parsed;
  };
}
