import type { SignedReceipt } from "@atoma/core";
import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { checkReceiptSequence } from "./checkReceiptSequence.js";
import { RunningTotalError, UnitsMismatchError } from "./errors.js";

const usage = { prompt_tokens: 60, completion_tokens: 40 };

function receipt(
  leafIndex: bigint,
  units: bigint,
  cumulativeUnits: bigint,
  nonce = leafIndex,
): SignedReceipt {
  return {
    fields: {
      stackId: 1n,
      leafIndex,
      nonce,
      reqHash: keccak256(toHex(`q${leafIndex}`)),
      respHash: keccak256(toHex(`a${leafIndex}`)),
      units,
      cumulativeUnits,
      seed: 0n,
    },
    signature: "0x",
  };
}

describe("checking a receipt against the usage and the running total", () => {
  it("accepts receipts that add up from zero", () => {
    const first = receipt(0n, 100n, 100n);
    checkReceiptSequence(first, undefined, { nonce: 0n, usage });
    checkReceiptSequence(receipt(1n, 100n, 200n), first, { nonce: 1n, usage, stackUnits: 1_000n });
    // Without the previous receipt at hand only what the receipt alone shows can be checked.
    checkReceiptSequence(receipt(7n, 100n, 900n), undefined, { nonce: 7n, usage });
  });

  it("refuses a first answer billed as the whole stack, whether the total adds up or not", () => {
    const inflated = receipt(0n, 1_000_000n, 1_000_000n);
    const error = (() => {
      try {
        checkReceiptSequence(inflated, undefined, { nonce: 0n, usage });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnitsMismatchError);
    expect(error).toMatchObject({ usageUnits: 100n, receipt: inflated, code: "receipt_units_mismatch" });
    expect(() =>
      checkReceiptSequence(receipt(0n, 100n, 1_000_000n), undefined, { nonce: 0n, usage }),
    ).toThrow(RunningTotalError);
  });

  it("refuses a total that does not continue the previous receipt, or exceeds the stack", () => {
    const first = receipt(0n, 100n, 100n);
    expect(() => checkReceiptSequence(receipt(1n, 100n, 999_999n), first, { nonce: 1n, usage })).toThrow(
      /add up to 200/,
    );
    expect(() =>
      checkReceiptSequence(receipt(1n, 100n, 200n), first, { nonce: 1n, usage, stackUnits: 150n }),
    ).toThrow(/exceeds/);
    expect(() => checkReceiptSequence(receipt(3n, 100n, 50n), undefined, { nonce: 3n, usage })).toThrow(
      RunningTotalError,
    );
  });

  it("refuses a receipt for another leaf or nonce than the request's", () => {
    expect(() => checkReceiptSequence(receipt(2n, 100n, 300n), undefined, { nonce: 1n, usage })).toThrow(
      /leaf 2/,
    );
    expect(() => checkReceiptSequence(receipt(1n, 100n, 200n, 0n), undefined, { nonce: 1n, usage })).toThrow(
      RunningTotalError,
    );
  });

  // Review 5 HIGH-1: a receipt after leaves the owner holds no receipt for may claim no more than the bounds it
  // signed for them; a node that made up leaves 5..8 (never signed) and billed them in leaf 9's total is refused.
  it("refuses a running total past the bounds signed for the leaves between (a made-up gap)", () => {
    const before = receipt(4n, 100n, 500n);
    checkReceiptSequence(receipt(6n, 100n, 610n), before, { nonce: 6n, usage, gapUnits: 10n });
    expect(() =>
      checkReceiptSequence(receipt(6n, 100n, 611n), before, { nonce: 6n, usage, gapUnits: 10n }),
    ).toThrow(RunningTotalError);
    expect(() =>
      checkReceiptSequence(receipt(9n, 100n, 900_000n), before, { nonce: 9n, usage, gapUnits: 0n }),
    ).toThrow(RunningTotalError);
  });
});
