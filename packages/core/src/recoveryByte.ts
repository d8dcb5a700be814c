import type { Hex } from "viem";

/**
 * A 65-byte signature with its recovery byte as the contracts read it: v 0/1 (what some wallets and signers give)
 * becomes 27/28. OpenZeppelin's `tryRecover` answers address 0 for v 0/1, so evidence must carry 27/28; anything
 * else is returned unchanged (and refused where it is checked).
 */
export function withRecoveryByte27(signature: Hex): Hex {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return signature;
  const v = Number.parseInt(signature.slice(130), 16);
  if (v !== 0 && v !== 1) return signature;
  return `${signature.slice(0, 130)}${(v + 27).toString(16)}` as Hex;
}
