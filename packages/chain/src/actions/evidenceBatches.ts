import { disputeManagerAbi } from "@atoma/contracts";
import { EvidenceTooLargeError } from "../errors.js";
import type { ChainContext } from "./context.js";

/** The DisputeManager's bound on one posted request body or output. */
export async function readMaxEvidenceBytes(ctx: ChainContext): Promise<number> {
  const params = await ctx.publicClient.readContract({
    address: ctx.addresses.DisputeManager,
    abi: disputeManagerAbi,
    functionName: "params",
  });
  return Number(params[7]);
}

/**
 * Splits items `start..` into consecutive [from, to) ranges of at most `maxBytes` bytes each, so every post fits
 * the contract's bound (one item per post at worst). An item over the bound cannot be posted at all.
 */
export function batchesWithin(sizes: readonly number[], start: number, maxBytes: number): [number, number][] {
  const batches: [number, number][] = [];
  let from = start;
  let bytes = 0;
  for (let i = start; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (size > maxBytes) throw new EvidenceTooLargeError(i, size, maxBytes);
    if (i > from && bytes + size > maxBytes) {
      batches.push([from, i]);
      from = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (from < sizes.length) batches.push([from, sizes.length]);
  return batches;
}
