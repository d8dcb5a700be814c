/**
 * Runs `work` for every item, one at a time per key (one account sends one transaction at a time) and all keys
 * at once (different accounts send concurrently).
 */
export async function perActor<T, R>(
  items: readonly T[],
  key: (item: T) => bigint,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const queues = new Map<bigint, { item: T; index: number }[]>();
  items.forEach((item, index) => {
    const k = key(item);
    const queue = queues.get(k) ?? [];
    queue.push({ item, index });
    queues.set(k, queue);
  });
  const results: R[] = new Array(items.length);
  await Promise.all(
    [...queues.values()].map(async (queue) => {
      for (const { item, index } of queue) results[index] = await work(item);
    }),
  );
  return results;
}
