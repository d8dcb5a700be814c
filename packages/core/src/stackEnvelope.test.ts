import { describe, expect, it } from "vitest";
import { InvalidInputError } from "./errors.js";
import { requestHash } from "./hash.js";
import { parseReceipt, toReceipt } from "./stackEnvelope.js";

const fields = {
  stackId: 2n ** 200n,
  leafIndex: 3n,
  nonce: 3n,
  reqHash: requestHash({ a: 1 }),
  respHash: requestHash({ b: 2 }),
  units: 40n,
  cumulativeUnits: 100n,
  seed: 4_294_967_294n,
};

describe("the atoma receipt", () => {
  it("carries uint values as decimal strings and parses back to the signed fields", () => {
    const receipt = toReceipt(9n, fields, "0x1234");
    expect(receipt.stack_id).toBe((2n ** 200n).toString());
    expect(JSON.parse(JSON.stringify(receipt))).toEqual(receipt);
    expect(parseReceipt(receipt).fields).toEqual(fields);
  });

  it("names the field that is wrong", () => {
    const receipt = toReceipt(9n, fields, "0x1234");
    expect(() => parseReceipt(undefined)).toThrow(InvalidInputError);
    expect(() => parseReceipt({ ...receipt, units: 40 })).toThrow(/atoma.units/);
    expect(() => parseReceipt({ ...receipt, leaf_index: "-1" })).toThrow(/atoma.leaf_index/);
    expect(() => parseReceipt({ ...receipt, nonce: undefined })).toThrow(/atoma.nonce/);
    expect(() => parseReceipt({ ...receipt, response_hash: "0x12" })).toThrow(/atoma.response_hash/);
    expect(() => parseReceipt({ ...receipt, signature: "nope" })).toThrow(/atoma.signature/);
  });
});
