import { resultBytes } from "@atoma/core";
import { bytesToHex, keccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { findKeptReceiptFraud } from "./keptReceiptFraud.js";
import type { KeptReceipt } from "./StackClient.js";

const answer = {
  object: "chat.completion",
  model: "atoma-tiny",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 60, completion_tokens: 40, total_tokens: 100 },
};
const result = bytesToHex(resultBytes(answer));

function kept(leafIndex: bigint, units: bigint, cumulativeUnits: bigint): KeptReceipt {
  return {
    fields: {
      stackId: 1n,
      leafIndex,
      nonce: leafIndex,
      reqHash: keccak256(bytesToHex(new Uint8Array([Number(leafIndex)]))),
      respHash: keccak256(result),
      units,
      cumulativeUnits,
      seed: 0n,
    },
    signature: "0x",
    result,
  };
}

describe("evidence among the receipts an owner kept", () => {
  it("is nothing when the receipts are honest", () => {
    expect(findKeptReceiptFraud([kept(0n, 100n, 100n), kept(1n, 100n, 200n)], 1_000n)).toBeUndefined();
  });

  it("is the pair whose totals do not add up, before anything else", () => {
    expect(findKeptReceiptFraud([kept(0n, 100n, 100n), kept(1n, 100n, 900n)])).toMatchObject({
      kind: "runningTotal",
    });
  });

  it("is a receipt whose units are not its answer's usage, with the answer's result bytes", () => {
    const inflated = kept(0n, 333_334n, 333_334n);
    expect(findKeptReceiptFraud([inflated])).toEqual({ kind: "units", receipt: inflated, result });
  });
});
