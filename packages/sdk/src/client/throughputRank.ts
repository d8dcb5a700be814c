/**
 * `offers` ranked for `sort: "throughput"`: those with a figure in `figures` (tokens per second this client measured),
 * highest first, then the unmeasured in the order given, as the gateway ranks a node it has not measured last.
 */
export function rankedByThroughput<T extends { nodeId: bigint }>(
  offers: readonly T[],
  figures: ReadonlyMap<bigint, number>,
): T[] {
  const measured = offers.filter((o) => figures.has(o.nodeId));
  measured.sort((a, b) => figures.get(b.nodeId)! - figures.get(a.nodeId)!);
  return [...measured, ...offers.filter((o) => !figures.has(o.nodeId))];
}
