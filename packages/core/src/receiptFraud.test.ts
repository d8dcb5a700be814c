import { keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import type { SignedResponseFields } from "./eip712.js";
import {
  findReceiptFraud,
  findSettledLeafFraud,
  pairReceiptFraud,
  type SignedReceipt,
  singleReceiptFraud,
} from "./receiptFraud.js";
import type { StackLeaf } from "./stackLeaf.js";

function receipt(
  leafIndex: bigint,
  units: bigint,
  cumulativeUnits: bigint,
  nonce = leafIndex,
): SignedReceipt {
  const fields: SignedResponseFields = {
    stackId: 1n,
    leafIndex,
    nonce,
    reqHash: keccak256(toHex(`q${leafIndex}`)),
    respHash: keccak256(toHex(`a${leafIndex}`)),
    units,
    cumulativeUnits,
    seed: 0n,
  };
  return { fields, signature: "0x" };
}

describe("receipt fraud", () => {
  it("finds nothing in an honest run of receipts", () => {
    const honest = [receipt(0n, 100n, 100n), receipt(1n, 90n, 190n), receipt(2n, 110n, 300n)];
    expect(findReceiptFraud(honest, 1_000n)).toBeUndefined();
  });

  it("proves a node that bills a whole stack from its first answers (totals that do not add up)", () => {
    const inflated = [receipt(0n, 100n, 100n), receipt(1n, 100n, 1_000_000n)];
    expect(findReceiptFraud(inflated)).toMatchObject({ kind: "runningTotal" });
    expect(findReceiptFraud([receipt(0n, 100n, 1_000_000n)])).toMatchObject({ kind: "total" });
    expect(findReceiptFraud([receipt(3n, 100n, 2_000n)], 1_000n)).toMatchObject({ kind: "overStack" });
    expect(singleReceiptFraud(receipt(3n, 100n, 50n))).toMatchObject({ kind: "total" });
  });

  it("proves a nonce that is not its leaf index, and one nonce at two leaves", () => {
    expect(findReceiptFraud([receipt(0n, 1n, 1n), receipt(1n, 1n, 2n, 0n)])).toMatchObject({ kind: "nonce" });
    expect(pairReceiptFraud(receipt(0n, 1n, 1n), receipt(4n, 1n, 9n, 0n))).toMatchObject({
      kind: "sameNonce",
    });
    expect(pairReceiptFraud(receipt(0n, 1n, 1n), receipt(2n, 1n, 9n))).toBeUndefined();
  });
});

describe("settled leaf fraud", () => {
  const leaf = (k: bigint, units: bigint, cumulativeUnits: bigint, nonce = k): StackLeaf => ({
    leafIndex: k,
    nonce,
    reqHash: keccak256(toHex(`q${k}`)),
    respHash: keccak256(toHex(`a${k}`)),
    units,
    cumulativeUnits,
  });

  it("finds nothing in consistent leaves that end at the settled units", () => {
    expect(findSettledLeafFraud([leaf(0n, 5n, 5n), leaf(1n, 5n, 10n)], 10n)).toBeUndefined();
  });

  it("finds a copied request, totals that jump, and a last total that is not the settled units", () => {
    const copy = leaf(2n, 5n, 15n, 1n);
    expect(findSettledLeafFraud([leaf(0n, 5n, 5n), leaf(1n, 5n, 10n), copy], 15n)).toEqual([copy]);
    const jump = [leaf(0n, 5n, 5n), leaf(1n, 5n, 900n)];
    expect(findSettledLeafFraud(jump, 900n)).toEqual(jump);
    expect(findSettledLeafFraud([leaf(0n, 5n, 5n), leaf(1n, 5n, 10n)], 900n)).toEqual([leaf(1n, 5n, 10n)]);
  });
});
