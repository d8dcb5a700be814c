import canonicalizeModule from "canonicalize";
import { CanonicalJsonError } from "./errors.js";

// The package is CommonJS whose `module.exports` is the function; its typings describe an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers in their
 * shortest ECMAScript form. Rejects what JSON cannot carry (NaN, Infinity, undefined at the top, bigint),
 * so two parties can never hash different bytes for the same value.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, "$");
  const text = canonicalize(value);
  if (text === undefined) throw new CanonicalJsonError("value has no JSON representation");
  return text;
}

function assertJsonValue(value: unknown, path: string): void {
  switch (typeof value) {
    case "string":
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`non-finite number at ${path}`);
      return;
    case "object":
      if (value === null) return;
      if (Array.isArray(value)) {
        for (const [index, item] of value.entries()) assertJsonValue(item, `${path}[${index}]`);
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
        throw new CanonicalJsonError(`only plain objects are canonicalised (at ${path})`);
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) assertJsonValue(item, `${path}.${key}`);
      }
      return;
    default:
      throw new CanonicalJsonError(`a ${typeof value} has no JSON form (at ${path})`);
  }
}
