import { encodeErrorResult } from "viem";
import { describe, expect, it } from "vitest";
import { atomaErrorsAbi, decodeRevert, describeRevert } from "./revert.js";

describe("decodeRevert", () => {
  it("names any Atoma contract's custom error from raw revert data, wherever it sits in the cause chain", () => {
    const data = encodeErrorResult({
      abi: atomaErrorsAbi,
      errorName: "CollateralTooLow",
      args: [1n, 1_000n],
    });
    const nested = new Error("outer", { cause: new Error("rpc", { cause: { data } }) });
    expect(decodeRevert(nested)).toEqual({ errorName: "CollateralTooLow", args: [1n, 1_000n] });
    expect(describeRevert(nested)).toBe("CollateralTooLow(1, 1000)");
  });

  it("returns undefined when there is nothing to decode", () => {
    expect(decodeRevert(new Error("network down"))).toBeUndefined();
    expect(decodeRevert({ data: "0xdeadbeef" })).toBeUndefined();
  });

  it("covers every contract's errors once", () => {
    const names = atomaErrorsAbi.map((e) => ("name" in e ? e.name : ""));
    for (const name of [
      "EscrowExceeded",
      "NotServingNode",
      "InvalidProof",
      "NotEnoughNodes",
      "ParameterOutOfBounds",
    ])
      expect(names).toContain(name);
  });
});
