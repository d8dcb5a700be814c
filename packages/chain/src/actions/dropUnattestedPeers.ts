import { taskRegistryAbi } from "@atoma/contracts";
import type { ChainContext } from "./context.js";
import { dropUnattested } from "./dropUnattested.js";
import { getSubscription, getTask } from "./getTask.js";
import { attestationStanding } from "./readAttestation.js";

/** What one pass of `dropUnattestedPeers` did. */
export interface PeerDrop {
  taskId: bigint;
  nodeId: bigint;
  /** The standing that let it be dropped (`Expired`, `None`, `Measurement`, `Dev`). */
  standing: string;
}

/**
 * The keeper a confidential node runs for its own level-3 tasks: every other active subscriber the attestation
 * registry no longer accepts there (its record expired, its measurement or the dev kind withdrawn) is put on exit
 * notice with `dropUnattested`, so it stops holding a subscriber slot and drawing work it may not serve. The
 * caller pays the gas and gains the work: it serves the same tasks. A drop someone else sent first (the subscription
 * already inactive, or the node re-attested meanwhile) is skipped. Returns what was dropped.
 */
export async function dropUnattestedPeers(
  ctx: ChainContext,
  params: { nodeId: bigint },
): Promise<PeerDrop[]> {
  const read = (functionName: "tasksOf" | "subscribersOf", id: bigint) =>
    ctx.publicClient.readContract({
      address: ctx.addresses.TaskRegistry,
      abi: taskRegistryAbi,
      functionName,
      args: [id],
    }) as Promise<readonly bigint[]>;
  const dropped: PeerDrop[] = [];
  for (const taskId of await read("tasksOf", params.nodeId)) {
    const task = await getTask(ctx, taskId);
    if (Number(task.securityLevel) !== 3) continue;
    if (!(await getSubscription(ctx, { taskId, nodeId: params.nodeId })).active) continue;
    for (const nodeId of await read("subscribersOf", taskId)) {
      if (nodeId === params.nodeId) continue;
      if (!(await getSubscription(ctx, { taskId, nodeId })).active) continue;
      const standing = await attestationStanding(ctx, { taskId, nodeId });
      if (standing === "Ok") continue;
      try {
        await dropUnattested(ctx, { nodeId, taskId });
        dropped.push({ taskId, nodeId, standing });
      } catch (error) {
        const name = (error as { errorName?: unknown }).errorName;
        if (name !== "AttestationCurrent" && name !== "NotSubscribed") throw error;
      }
    }
  }
  return dropped;
}
