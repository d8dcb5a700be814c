import type { KeptReceipt } from "@atoma/sdk";
import type { Hex } from "viem";

/** A kept receipt as stored: uints as decimal text (JSON has no bigint). */
export function receiptToRow(receipt: KeptReceipt): Record<string, string> {
  const f = receipt.fields;
  return {
    stackId: f.stackId.toString(),
    leafIndex: f.leafIndex.toString(),
    nonce: f.nonce.toString(),
    reqHash: f.reqHash,
    respHash: f.respHash,
    units: f.units.toString(),
    cumulativeUnits: f.cumulativeUnits.toString(),
    seed: f.seed.toString(),
    signature: receipt.signature,
    result: receipt.result,
  };
}

export function receiptFromRow(row: Record<string, string>): KeptReceipt {
  const big = (name: string) => BigInt(row[name] ?? "0");
  return {
    fields: {
      stackId: big("stackId"),
      leafIndex: big("leafIndex"),
      nonce: big("nonce"),
      reqHash: row.reqHash as Hex,
      respHash: row.respHash as Hex,
      units: big("units"),
      cumulativeUnits: big("cumulativeUnits"),
      seed: big("seed"),
    },
    signature: row.signature as Hex,
    result: row.result as Hex,
  };
}
