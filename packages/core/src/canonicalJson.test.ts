import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonicalJson.js";
import { CanonicalJsonError } from "./errors.js";

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
});
