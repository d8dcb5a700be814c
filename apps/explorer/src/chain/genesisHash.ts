import type { Hex } from "viem";

/**
 * A block hash as an RPC node hands it over, taken only when it is one (32 bytes of hex): a hostile or broken node's
 * `null` or short string would otherwise end up in the answer files' names, or crash the page that slices it.
 */
export function blockHashOf(value: unknown): Hex | undefined {
  return typeof value === "string" && /^0x[0-9a-f]{64}$/i.test(value) ? (value as Hex) : undefined;
}
