import { type Address, checksumAddress, type Hex, hexToBytes, recoverAddress } from "viem";
import { keccak256Hex } from "./keccak.js";
import { nativeSecp256k1 } from "./nativeSecp256k1.js";

/** secp256k1's group order: r and s of a signature lie in [1, N). */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const COMPACT = /^0x[0-9a-fA-F]{130}$/;

/**
 * The address that signed the 32-byte `digest`: viem's `recoverAddress`, or libsecp256k1 where it loaded and the
 * signature is the plain 65-byte `r‖s‖v` (v 0, 1, 27 or 28; r and s in [1, N)) that viem reads the same way. Both
 * recover from r, s and the recovery bit alone (a high-s signature recovers as it does in viem), and both throw
 * where there is no such key; anything else goes to viem, which throws or answers as before.
 */
export function recoverDigestSigner(digest: Hex, signature: Hex): Promise<Address> {
  const native = nativeSecp256k1();
  const compact = native ? compactSignature(signature) : undefined;
  if (!native || !compact || !/^0x[0-9a-fA-F]{64}$/.test(digest))
    return recoverAddress({ hash: digest, signature });
  try {
    const publicKey = native.ecdsaRecover(compact.rs, compact.recid, hexToBytes(digest), false);
    // viem's `publicKeyToAddress`: the last 20 bytes of the hash of the key without its 0x04 prefix, checksummed.
    return Promise.resolve(checksumAddress(`0x${keccak256Hex(publicKey.subarray(1)).substring(26)}`));
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The signature's 64 bytes and recovery bit, when viem would read it as a compact signature it can use. */
function compactSignature(signature: Hex): { rs: Uint8Array; recid: number } | undefined {
  if (typeof signature !== "string" || !COMPACT.test(signature)) return undefined;
  const v = Number.parseInt(signature.slice(130), 16);
  const recid = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined;
  if (recid === undefined) return undefined;
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  if (r === 0n || r >= N || s === 0n || s >= N) return undefined;
  return { rs: hexToBytes(`0x${signature.slice(2, 130)}`), recid };
}
