import { CliUsageError } from "./errors.js";

/** Parses a whole number option, naming the option when the value is not one. */
export function integerOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < min || parsed > max)
      throw new CliUsageError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    return parsed;
  };
}

/** Whether `value` parses as an http: or https: URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
