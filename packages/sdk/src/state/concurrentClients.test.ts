import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { KeptReceipt } from "../StackClient.js";
import { KeptStacks } from "./keptStacks.js";
import { memoryStateStore, type StateStore } from "./stateStore.js";

const place = {
  chainId: 31_337,
  genesis: `0x${"9e".repeat(32)}`,
  stackManager: `0x${"5a".repeat(20)}`,
  owner: `0x${"0b".repeat(20)}`,
};
const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const receipt = (leaf: bigint, adopted = false): KeptReceipt => ({
  fields: {
    stackId: 7n,
    leafIndex: leaf,
    nonce: leaf,
    reqHash: hash(Number(leaf) + 100),
    respHash: hash(Number(leaf) + 200),
    units: 10n,
    cumulativeUnits: 10n * (leaf + 1n),
    seed: 1n,
  },
  signature: `0x${leaf.toString(16).padStart(130, "0")}` as Hex,
  result: "0x",
  ...(adopted && { adopted: true as const }),
});

/** A store whose reads and writes take a turn of the event loop, as a real one's do. */
function slowStore(): StateStore {
  const inner = memoryStateStore();
  const later = () => new Promise((r) => setTimeout(r, 1));
  return {
    get: async (key) => {
      await later();
      return inner.get(key);
    },
    set: async (key, value) => {
      await later();
      inner.set(key, value);
    },
  };
}

// Review of issue 13, HIGH-1: two clients of one owner (two KeptStacks) over one store, writing at the same moment
// (both hit nonce_reused: one keeps the adopted receipt, the other the request it re-signs).
describe("two clients of one owner on one store", () => {
  for (const [name, make] of [
    ["memory", memoryStateStore],
    ["slow", slowStore],
  ] as const) {
    it(`keeps both clients' writes (${name} store)`, async () => {
      const store = make();
      const a = new KeptStacks(store, place);
      const b = new KeptStacks(store, place);
      const s = await a.load(7n);
      const oa = a.clientOptions(7n, s, () => undefined);
      const ob = b.clientOptions(7n, s, () => undefined);
      await Promise.all([
        oa.onReceipt?.(receipt(1n, true), { accepted: true }),
        ob.onSigned?.({ nonce: 5n, reqHash: hash(9) }),
        ob.onReceipt?.(receipt(3n), { accepted: true }),
      ]);
      const kept = await b.load(7n);
      expect(kept.receipts.map((r) => r.receipt.fields.leafIndex).sort()).toEqual([1n, 3n]);
      expect(kept.signed.map((x) => x.nonce)).toEqual([5n]);
      expect(await b.adoptedStacks()).toEqual([7n]);
    });
  }
});
