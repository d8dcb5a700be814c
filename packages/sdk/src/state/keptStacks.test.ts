import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { KeptReceipt, PendingRequest } from "../StackClient.js";
import { KeptStacks } from "./keptStacks.js";
import { emptyStackState, encodeStackState, stackStateKey } from "./stackState.js";
import { memoryStateStore } from "./stateStore.js";

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
const pending = (nonce: bigint, n: number): PendingRequest => ({
  path: "/v1/chat/completions",
  signed: { nonce, reqHash: hash(n), maxUnits: 50n, headers: {}, json: "{}" },
});

/**
 * MED-1 of issue 13's last review: what a direct client keeps of a stack. Two clients of one owner on one store (two
 * tabs of the playground) must not erase each other's evidence: the other's hashes, receipts and pending requests.
 */
describe("KeptStacks", () => {
  it("keeps receipts, signed hashes and pending requests of two clients on one store, and the audit's list", async () => {
    const store = memoryStateStore();
    const a = new KeptStacks(store, place);
    const b = new KeptStacks(store, place);
    const state = await a.load(7n);
    const optionsA = a.clientOptions(7n, state, () => undefined);
    const optionsB = b.clientOptions(7n, state, () => undefined);
    await optionsA.onReceipt!(receipt(0n), { accepted: true });
    await optionsA.onSigned!({ nonce: 1n, reqHash: hash(1) });
    await optionsA.onPending!([pending(1n, 1)]);
    // B, which knew nothing of A's request, writes its own view: A's hash and pending entry stay.
    await optionsB.onSigned!({ nonce: 1n, reqHash: hash(2) });
    await optionsB.onPending!([pending(1n, 2)]);
    let kept = await new KeptStacks(store, place).load(7n);
    expect(kept.signed.map((s) => s.reqHash).sort()).toEqual([hash(1), hash(2)]);
    expect(kept.pending.map((p) => p.signed.reqHash).sort()).toEqual([hash(1), hash(2)]);
    expect(await a.adoptedStacks()).toEqual([]);
    // A adopts the leaf B took at 1: kept, listed for the audit; what was signed or pending at 1 is pruned.
    await optionsA.onReceipt!(receipt(1n, true), { accepted: true });
    kept = await a.load(7n);
    expect(kept.receipts.map((r) => [r.receipt.fields.leafIndex, r.receipt.adopted === true])).toEqual([
      [0n, false],
      [1n, true],
    ]);
    expect(kept.signed).toEqual([]);
    expect(kept.pending).toEqual([]);
    expect(await b.adoptedStacks()).toEqual([7n]);
    // A refused receipt keeps the bound signed at its leaf; the same receipt twice is kept once.
    await optionsB.onReceipt!(receipt(2n), {
      accepted: false,
      error: new Error("x") as never,
      maxUnits: 50n,
    });
    await optionsB.onReceipt!(receipt(2n), {
      accepted: false,
      error: new Error("x") as never,
      maxUnits: 50n,
    });
    const options = a.clientOptions(7n, await a.load(7n), () => undefined);
    expect(options.refused).toEqual([{ signature: receipt(2n).signature, maxUnits: 50n }]);
    expect(options.receipts).toHaveLength(3);
    // The audit ends: off the list, the stack marked.
    await a.keepChallenge(7n, { leafIndex: 1n, challengeId: 4n, upheld: false, answerDeadline: 9n });
    await a.audited(7n);
    expect(await a.adoptedStacks()).toEqual([]);
    expect(await a.load(7n)).toMatchObject({ audited: true, challenges: [{ challengeId: 4n }] });
  });

  it("refuses an entry it did not write rather than drop the owner's evidence", async () => {
    const store = memoryStateStore();
    const kept = new KeptStacks(store, place);
    await kept.update(7n, (s) => s);
    const key = stackStateKey(place, 7n);
    expect(await store.get(key)).toBeDefined();
    await store.set(key, "{not json");
    await expect(kept.load(7n)).rejects.toThrow();
    await expect(kept.update(7n, (s) => s)).rejects.toThrow();
  });

  it("reads what a release before the genesis hash kept, except on a dev chain, and writes it on under the new key", async () => {
    const challenge = { leafIndex: 1n, challengeId: 4n, upheld: false, answerDeadline: 99n };
    const old = encodeStackState({
      ...emptyStackState(),
      receipts: [{ receipt: receipt(1n, true) }],
      challenges: [challenge],
    });
    const legacy = (chainId: number) => {
      const where = `${chainId}:${place.stackManager}:${place.owner}`;
      const store = memoryStateStore();
      store.set(`atoma-stack:${where}:7`, old);
      store.set(`atoma-adopted-stacks:${where}`, JSON.stringify(["7"]));
      return store;
    };
    // Another chain than a dev one: the owner's adopted receipt, its challenge and the audit's list are all there.
    const store = legacy(8453);
    const kept = new KeptStacks(store, { ...place, chainId: 8453 });
    expect(await kept.adoptedStacks()).toEqual([7n]);
    expect((await kept.load(7n)).challenges).toEqual([challenge]);
    await kept.keepChallenge(7n, { ...challenge, resolved: true });
    const moved = await kept.load(7n);
    expect(moved.receipts.map((r) => r.receipt.signature)).toEqual([receipt(1n, true).signature]);
    expect(moved.challenges).toEqual([{ ...challenge, resolved: true }]);
    await kept.audited(7n);
    expect(await kept.adoptedStacks()).toEqual([]);
    // A dev chain (31337): another chain of the same id and addresses may have written them; never read.
    const dev = new KeptStacks(legacy(31_337), place);
    expect(await dev.adoptedStacks()).toEqual([]);
    expect(await dev.load(7n)).toEqual(emptyStackState());
  });
});
