import { ContractRevertError } from "@atoma/chain";
import { InvalidInputError } from "@atoma/core";
import { NodeRequestError } from "@atoma/sdk";
import { describe, expect, it } from "vitest";
import { oneLineMessage } from "./errors.js";

describe("oneLineMessage", () => {
  it("ends an Atoma error with its code, spelled as the node sent it on the wire", () => {
    const refused = new NodeRequestError(402, {
      message: "stack 3 has 0 units left",
      type: "insufficient_quota",
      code: "stack_exhausted",
    });
    expect(oneLineMessage(refused)).toBe("node answered 402: stack 3 has 0 units left (stack_exhausted)");
  });

  it("keeps to one line and names a revert's custom error", () => {
    expect(oneLineMessage(new InvalidInputError("bad amount", { details: "more\nlines" }))).toBe(
      "bad amount (invalid_input)",
    );
    expect(oneLineMessage(new ContractRevertError("buyStack", "PriceAboveCap", []))).toBe(
      "buyStack reverted with PriceAboveCap (contract_reverted)",
    );
  });

  it("prints the first line of any other error", () => {
    expect(oneLineMessage(new Error("first\nsecond"))).toBe("first");
  });
});
