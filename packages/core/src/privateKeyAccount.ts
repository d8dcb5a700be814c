import { bytesToHex, type Hex, hexToBytes } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { nativeSecp256k1 } from "./nativeSecp256k1.js";

const DIGEST = /^0x[0-9a-fA-F]{64}$/;
/** secp256k1's group order: RFC 6979 in noble reduces a digest at or above it first, libsecp256k1 does not. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/**
 * viem's account for `privateKey`, whose `sign({hash})` (what `signRequest` and `signResponse` call) runs in
 * libsecp256k1 where it loaded: the same RFC 6979 low-s signature viem makes, several times faster. Every other
 * method, and `sign` without the native bindings or for anything but a 32-byte hex digest below the group order
 * (where the two derive different nonces), is viem's own.
 */
export function privateKeyAccount(privateKey: Hex): PrivateKeyAccount {
  const account = privateKeyToAccount(privateKey);
  const native = nativeSecp256k1();
  if (!native) return account;
  const key = hexToBytes(privateKey);
  const viemSign = account.sign;
  return {
    ...account,
    sign: async (parameters) => {
      if (!DIGEST.test(parameters.hash) || BigInt(parameters.hash) >= N) return viemSign(parameters);
      const { signature, recid } = native.ecdsaSign(hexToBytes(parameters.hash), key);
      return `${bytesToHex(signature)}${recid !== 0 ? "1c" : "1b"}`;
    },
  };
}
