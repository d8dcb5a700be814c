import { encodeAbiParameters, type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { keccak256Bytes, keccak256Hex, nativeKeccakLoaded } from "./keccak.js";
import { leafHash, type StackLeaf } from "./stackLeaf.js";

/** Deterministic bytes: a linear congruential stream from `seed`. */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe("keccak256 (native where it loads)", () => {
  it("runs natively here (linux-x64 has the prebuilt addon), so the tests below compare it with viem", () => {
    const optedOut = process.env.ATOMA_NATIVE_KECCAK === "0";
    expect(nativeKeccakLoaded()).toBe(process.platform === "linux" && process.arch === "x64" && !optedOut);
  });

  it("gives viem's bytes for every length around the 136-byte rate, and for views into larger buffers", () => {
    const lengths = [0, 1, 31, 32, 33, 64, 134, 135, 136, 137, 271, 272, 273, 1_000, 10_000];
    for (const length of lengths)
      for (const seed of [1, 2, 3]) {
        const data = bytes(length, seed + length);
        expect(keccak256Hex(data)).toBe(keccak256(data));
        expect(toHex(keccak256Bytes(data))).toBe(keccak256(data));
        const padded = bytes(length + 9, seed);
        const view = padded.subarray(5, 5 + length);
        expect(keccak256Hex(view)).toBe(keccak256(view));
      }
  });

  it("returns a fresh array each time (a caller may keep or change it)", () => {
    const first = keccak256Bytes(bytes(10, 1));
    first.fill(0);
    expect(toHex(keccak256Bytes(bytes(10, 1)))).toBe(keccak256(bytes(10, 1)));
  });

  it("hashes a leaf as viem's ABI encoding does, and leaves out-of-range leaves to viem's errors", () => {
    const leaf: StackLeaf = {
      leafIndex: 7n,
      nonce: 7n,
      reqHash: `0x${"ab".repeat(32)}`,
      respHash: `0x${"CD".repeat(32)}` as Hex,
      units: (1n << 64n) - 1n,
      cumulativeUnits: 123_456_789n,
    };
    const abi = [
      { type: "uint256" },
      { type: "uint256" },
      { type: "bytes32" },
      { type: "bytes32" },
      { type: "uint64" },
      { type: "uint64" },
    ] as const;
    const viemLeaf = (l: StackLeaf) =>
      keccak256(
        encodeAbiParameters(abi, [l.leafIndex, l.nonce, l.reqHash, l.respHash, l.units, l.cumulativeUnits]),
      );
    for (const each of [leaf, { ...leaf, leafIndex: (1n << 256n) - 1n, nonce: 0n, units: 0n }])
      expect(leafHash(each)).toBe(viemLeaf(each));
    expect(() => leafHash({ ...leaf, units: 1n << 64n })).toThrow();
    expect(() => leafHash({ ...leaf, reqHash: "0x1234" })).toThrow();
  });
});
