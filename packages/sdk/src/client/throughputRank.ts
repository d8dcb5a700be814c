/** A measured node below this share of the best measured figure ranks after the nodes not measured yet. */
export const SLOW_SHARE = 0.5;
/** The share of purchases (`sort: "throughput"`) that try a node not measured yet first, whatever the figures. */
export const EXPLORE_SHARE = 0.1;

/**
 * `offers` ranked for `sort: "throughput"` by `figures` (bytes of answer per second this client measured): the
 * measured nodes within `SLOW_SHARE` of the best, fastest first; then the unmeasured, in the order given; then the
 * measured slower than that, fastest first. With `explore`, the unmeasured come first. A node that won an early
 * draw and is slow thus does not keep the owner for good: once another is measured twice as fast, every node not
 * measured yet is tried before it.
 */
export function rankedByThroughput<T extends { nodeId: bigint }>(
  offers: readonly T[],
  figures: ReadonlyMap<bigint, number>,
  explore = false,
): T[] {
  const measured = offers.filter((o) => figures.has(o.nodeId));
  measured.sort((a, b) => figures.get(b.nodeId)! - figures.get(a.nodeId)!);
  const best = measured[0] ? figures.get(measured[0].nodeId)! : 0;
  const fast = measured.filter((o) => figures.get(o.nodeId)! >= best * SLOW_SHARE);
  const slow = measured.filter((o) => !fast.includes(o));
  const unmeasured = offers.filter((o) => !figures.has(o.nodeId));
  return explore ? [...unmeasured, ...fast, ...slow] : [...fast, ...unmeasured, ...slow];
}

/**
 * The offer `sort: "throughput"` buys from: the first of `rankedByThroughput`, exploring (`EXPLORE_SHARE` of the
 * time, by `random`) among the unmeasured, drawn among them at random; undefined when no offer is measured (the
 * protocol then draws among them all).
 */
export function throughputPick<T extends { nodeId: bigint }>(
  offers: readonly T[],
  figures: ReadonlyMap<bigint, number>,
  random: () => number = Math.random,
): T | undefined {
  if (!offers.some((o) => figures.has(o.nodeId))) return undefined;
  const explore = random() < EXPLORE_SHARE;
  const shuffled = [...offers];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return rankedByThroughput(shuffled, figures, explore)[0];
}
