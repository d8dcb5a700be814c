import { hexToBigInt } from "viem";
import type { Hash } from "./hash.js";

/** Largest seed every engine accepts (llama.cpp samplers take a 32-bit seed). */
export const MAX_SEED = 0xffff_ffff;

/** The seed a node uses when a request names none: the low 32 bits of its request hash. */
export function deriveSeed(reqHash: Hash): number {
  return Number(hexToBigInt(reqHash) & BigInt(MAX_SEED));
}
