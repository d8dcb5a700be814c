import { encodeAbiParameters, hexToBytes, keccak256 } from "viem";
import type { SignedResponseFields } from "./eip712.js";
import type { Hash } from "./hash.js";
import { keccak256Hex } from "./keccak.js";

/** What one leaf of a stack's tree commits to: the request's position, nonce and hash, its answer and its units. */
export interface StackLeaf {
  leafIndex: bigint;
  /** The owner's nonce of the request; a valid leaf has `nonce === leafIndex`. */
  nonce: bigint;
  reqHash: Hash;
  respHash: Hash;
  units: bigint;
  /** The stack's units after this request: the previous leaf's plus `units` (just `units` for leaf 0). */
  cumulativeUnits: bigint;
}

const LEAF_ABI = [
  { type: "uint256" },
  { type: "uint256" },
  { type: "bytes32" },
  { type: "bytes32" },
  { type: "uint64" },
  { type: "uint64" },
] as const;

/**
 * leaf = H(abi.encode(uint256 leafIndex, uint256 nonce, bytes32 reqHash, bytes32 respHash, uint64 units,
 * uint64 cumulativeUnits)), as `AtomaTypedData.leafHash` rebuilds it on-chain.
 */
export function leafHash(leaf: StackLeaf): Hash {
  const words = leafWords(leaf);
  if (words) return keccak256Hex(words);
  return keccak256(
    encodeAbiParameters(LEAF_ABI, [
      leaf.leafIndex,
      leaf.nonce,
      leaf.reqHash,
      leaf.respHash,
      leaf.units,
      leaf.cumulativeUnits,
    ]),
  );
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const UINT64 = 1n << 64n;
const UINT256 = 1n << 256n;

/**
 * The six 32-byte words `encodeAbiParameters(LEAF_ABI, ...)` gives, written directly where every value is in range
 * (bigints below their bound, 32-byte hex); undefined otherwise, and viem's encoder then throws or encodes as it did.
 */
function leafWords(leaf: StackLeaf): Uint8Array | undefined {
  const out = new Uint8Array(192);
  const uints: [bigint, bigint, number][] = [
    [leaf.leafIndex, UINT256, 0],
    [leaf.nonce, UINT256, 32],
    [leaf.units, UINT64, 128],
    [leaf.cumulativeUnits, UINT64, 160],
  ];
  for (const [value, below, offset] of uints) {
    if (typeof value !== "bigint" || value < 0n || value >= below) return undefined;
    let rest = value;
    for (let i = offset + 31; rest > 0n; i--) {
      out[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  for (const [value, offset] of [
    [leaf.reqHash, 64],
    [leaf.respHash, 96],
  ] as const) {
    if (typeof value !== "string" || !BYTES32.test(value)) return undefined;
    out.set(hexToBytes(value), offset);
  }
  return out;
}

/** The leaf a signed response stands for. */
export function leafOf(fields: SignedResponseFields): StackLeaf {
  return {
    leafIndex: fields.leafIndex,
    nonce: fields.nonce,
    reqHash: fields.reqHash,
    respHash: fields.respHash,
    units: fields.units,
    cumulativeUnits: fields.cumulativeUnits,
  };
}
