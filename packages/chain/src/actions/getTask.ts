import { taskRegistryAbi } from "@atoma/contracts";
import type { AtomaAddresses } from "../deploy.js";
import type { ChainContext } from "./context.js";

type ReadContext = Pick<ChainContext, "publicClient"> & { addresses: Pick<AtomaAddresses, "TaskRegistry"> };

/** A task (model, role, security level, verification settings); a zero model id when unknown. */
export function getTask(ctx: ReadContext, taskId: bigint) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "getTask",
    args: [taskId],
  });
}

/** A node's subscription to a task (price per 1M units, capacity, reserved units, active). */
export function getSubscription(ctx: ReadContext, params: { taskId: bigint; nodeId: bigint }) {
  return ctx.publicClient.readContract({
    address: ctx.addresses.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "getSubscription",
    args: [params.taskId, params.nodeId],
  });
}
