import { hexToBigInt } from "viem";
import type { Hash } from "./hash.js";

/**
 * Largest seed every engine accepts: llama.cpp samplers take a 32-bit seed and read 0xFFFFFFFF as "pick one at
 * random", so that value is excluded.
 */
export const MAX_SEED = 0xffff_fffe;

/** The seed a node uses when a request names none: the request hash reduced into [0, MAX_SEED]. */
export function deriveSeed(reqHash: Hash): number {
  return Number(hexToBigInt(reqHash) % BigInt(MAX_SEED + 1));
}
