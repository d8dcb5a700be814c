import { describe, expect, it } from "vitest";
import { assertJsonDepth, canonicalJson, MAX_JSON_DEPTH } from "./canonicalJson.js";
import { CanonicalJsonError, InvalidUnicodeError, JsonTooDeepError } from "./errors.js";

/** `[[[…]]]`, `depth` arrays deep, parsed from text as a request body would be. */
const nested = (depth: number) => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown;

describe("canonicalJson", () => {
  it("matches the worked example of RFC 8785 §3.2.2", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts keys by UTF-16 code units at every depth and drops undefined members", () => {
    expect(
      canonicalJson({ b: 1, a: { d: undefined, c: [{ z: 1, y: 2 }] }, "\u20ac": 0, "\ud83d\ude00": 1 }),
    ).toBe('{"a":{"c":[{"y":2,"z":1}]},"b":1,"€":0,"😀":1}');
  });

  it.each([
    ["NaN", { x: Number.NaN }],
    ["Infinity", [Number.POSITIVE_INFINITY]],
    ["bigint", { x: 1n }],
    ["undefined", undefined],
    ["a function", { f: () => 1 }],
    ["a class instance", { d: new Date(0) }],
  ])("rejects %s", (_, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it("keeps NUL and other control characters, escaped, and surrogate pairs as they are", () => {
    expect(canonicalJson({ s: "a\u0000b\u001f😀" })).toBe('{"s":"a\\u0000b\\u001f😀"}');
  });

  it.each([
    ["a lone high surrogate in a string", { s: "a\ud800b" }],
    ["a lone low surrogate in a string", ["\udc00"]],
    ["a reversed pair", { s: "\ude00\ud83d" }],
    ["a lone surrogate in a key", { "k\ud800": 1 }],
  ])("rejects %s (UTF-8 cannot carry it, so no two parties could agree on its bytes)", (_, value) => {
    expect(() => canonicalJson(value)).toThrow(InvalidUnicodeError);
  });

  it("accepts nesting up to MAX_JSON_DEPTH and refuses deeper, even 100,000 deep, without overflowing", () => {
    expect(canonicalJson(nested(MAX_JSON_DEPTH))).toHaveLength(2 * MAX_JSON_DEPTH);
    expect(() => canonicalJson(nested(MAX_JSON_DEPTH + 1))).toThrow(JsonTooDeepError);
    expect(() => canonicalJson(nested(100_000))).toThrow(JsonTooDeepError);
  });

  it("assertJsonDepth bounds objects and arrays alike", () => {
    expect(() => assertJsonDepth({ a: [{ b: 1 }] }, 3)).not.toThrow();
    expect(() => assertJsonDepth({ a: [{ b: [] }] }, 3)).toThrow(JsonTooDeepError);
    expect(() =>
      assertJsonDepth(JSON.parse(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`), 64),
    ).toThrow(JsonTooDeepError);
  });
});
