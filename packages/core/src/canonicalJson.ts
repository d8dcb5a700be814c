import canonicalizeModule from "canonicalize";
import { CanonicalJsonError, InvalidUnicodeError, JsonTooDeepError } from "./errors.js";

// The package is CommonJS whose `module.exports` is the function; its typings describe an ES default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

/**
 * Deepest nesting (objects and arrays) canonical JSON accepts. Room for a request body of `MAX_REQUEST_DEPTH`
 * inside the inputs transcript's own three levels, and far below what would overflow the stack.
 */
export const MAX_JSON_DEPTH = 128;

/** Deepest nesting a request body may have (the node refuses deeper bodies before hashing them). */
export const MAX_REQUEST_DEPTH = 64;

/** In a `u` regex a paired surrogate is one code point, so this matches only an unpaired one. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers in their
 * shortest ECMAScript form. Rejects what JSON cannot carry (NaN, Infinity, undefined at the top, bigint) with
 * `CanonicalJsonError`, strings or keys with an unpaired surrogate (which UTF-8 cannot encode) with
 * `InvalidUnicodeError`, and nesting deeper than `MAX_JSON_DEPTH` with `JsonTooDeepError`, so two parties can
 * never hash different bytes for the same value.
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, [], MAX_JSON_DEPTH);
  const text = canonicalize(value);
  if (text === undefined) throw new CanonicalJsonError("value has no JSON representation");
  return text;
}

/** Throws `JsonTooDeepError` when `value` nests more than `maxDepth` objects and arrays (without recursing past it). */
export function assertJsonDepth(value: unknown, maxDepth: number): void {
  const within = (item: unknown, left: number): void => {
    if (typeof item !== "object" || item === null) return;
    if (left === 0) throw new JsonTooDeepError(maxDepth);
    for (const child of Array.isArray(item) ? item : Object.values(item)) within(child, left - 1);
  };
  within(value, maxDepth);
}

/** `$`, `.key` and `[index]` from the keys walked so far: built only for an error message. */
function pathOf(trail: readonly (string | number)[]): string {
  const path = trail.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("");
  return `$${path.length > 200 ? `${path.slice(0, 200)}…` : path}`;
}

function assertString(text: string, trail: (string | number)[], what: string): void {
  if (LONE_SURROGATE.test(text))
    throw new InvalidUnicodeError(`${what} at ${pathOf(trail)} holds an unpaired UTF-16 surrogate`);
}

function assertJsonValue(value: unknown, trail: (string | number)[], left: number): void {
  switch (typeof value) {
    case "string":
      assertString(value, trail, "a string");
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`non-finite number at ${pathOf(trail)}`);
      return;
    case "object": {
      if (value === null) return;
      if (left === 0) throw new JsonTooDeepError(MAX_JSON_DEPTH);
      if (Array.isArray(value)) {
        for (const [index, item] of value.entries()) {
          trail.push(index);
          assertJsonValue(item, trail, left - 1);
          trail.pop();
        }
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
        throw new CanonicalJsonError(`only plain objects are canonicalised (at ${pathOf(trail)})`);
      for (const [key, item] of Object.entries(value)) {
        trail.push(key);
        assertString(key, trail, "a key");
        if (item !== undefined) assertJsonValue(item, trail, left - 1);
        trail.pop();
      }
      return;
    }
    default:
      throw new CanonicalJsonError(`a ${typeof value} has no JSON form (at ${pathOf(trail)})`);
  }
}
