import { getSubscription, updateSubscription } from "@atoma/chain";
import type { DevNodeActor } from "./devActors.js";

/** A node's subscription to a task, as the chain reads it. */
export type Subscription = Awaited<ReturnType<typeof getSubscription>>;

/** Sets each node's subscription to `taskId` to the price and capacity `terms` gives for it (node `k` of `nodes`). */
export async function setSubscriptions(
  nodes: readonly DevNodeActor[],
  taskId: bigint,
  terms: (k: number) => { pricePerMillion: bigint; capacity: bigint },
): Promise<void> {
  for (const [k, n] of nodes.entries())
    await updateSubscription(n.ctx, { taskId, nodeId: n.nodeId, ...terms(k) });
}

/**
 * Runs `change` with the nodes' subscriptions to `taskId` as they are now (`before[k]`: node `k`'s), and puts each
 * node's price and capacity back afterwards, whatever `change` did or threw.
 */
export async function withSubscriptionsRestored<T>(
  nodes: readonly DevNodeActor[],
  taskId: bigint,
  change: (before: Subscription[]) => Promise<T>,
): Promise<T> {
  const before = await Promise.all(nodes.map((n) => getSubscription(n.ctx, { taskId, nodeId: n.nodeId })));
  try {
    return await change(before);
  } finally {
    await setSubscriptions(nodes, taskId, (k) => ({
      pricePerMillion: before[k]!.pricePerMillion,
      capacity: before[k]!.capacity,
    }));
  }
}
