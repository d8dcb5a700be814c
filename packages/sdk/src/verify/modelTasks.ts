import { type AtomaPublicClient, modelIdOf, taskRegistryAbi } from "@atoma/chain/portable";
import type { Address } from "viem";

/** A task of a model that a node serves now. */
export interface ServedTask {
  taskId: bigint;
  securityLevel: number;
}

/**
 * The most tasks of one model read: each had a node's bonded subscription, so reaching it costs collateral, and
 * past it the newest are kept.
 */
export const MAX_MODEL_TASKS = 64;
/** Reads in flight at once. */
const READ_BATCH = 16;

/**
 * The active tasks of `model` (H(name)) that at least one node is subscribed to now (not on exit notice), newest
 * first. Found from the logs, not by reading every task: `TaskCreated` of the model (free to emit, so only
 * filtered) crossed with `Subscribed` (each a node's bonded collateral), so that tasks anyone may create by the
 * thousand cost a lookup nothing. Throws what the RPC throws: the caller must not read "none" into a failure.
 */
export async function servedTasks(
  publicClient: AtomaPublicClient,
  TaskRegistry: Address,
  model: string,
  fromBlock = 0n,
): Promise<ServedTask[]> {
  const modelId = modelIdOf(model);
  const [created, subscribed] = await Promise.all([
    publicClient.getContractEvents({
      address: TaskRegistry,
      abi: taskRegistryAbi,
      eventName: "TaskCreated",
      args: { modelId },
      fromBlock,
      strict: true,
    }),
    publicClient.getContractEvents({
      address: TaskRegistry,
      abi: taskRegistryAbi,
      eventName: "Subscribed",
      fromBlock,
      strict: true,
    }),
  ]);
  const ofModel = new Set(created.map((log) => log.args.taskId));
  const subscribers = new Map<bigint, Set<bigint>>();
  for (const { args } of subscribed) {
    if (!ofModel.has(args.taskId)) continue;
    subscribers.set(args.taskId, (subscribers.get(args.taskId) ?? new Set()).add(args.nodeId));
  }
  const candidates = [...subscribers.keys()].sort((a, b) => (a > b ? -1 : 1)).slice(0, MAX_MODEL_TASKS);
  const served: ServedTask[] = [];
  for (let at = 0; at < candidates.length; at += READ_BATCH) {
    const batch = candidates.slice(at, at + READ_BATCH);
    const read = await Promise.all(
      batch.map((taskId) =>
        servedTask(publicClient, TaskRegistry, taskId, subscribers.get(taskId) ?? new Set()),
      ),
    );
    for (const task of read) if (task) served.push(task);
  }
  return served;
}

async function servedTask(
  publicClient: AtomaPublicClient,
  TaskRegistry: Address,
  taskId: bigint,
  nodes: ReadonlySet<bigint>,
): Promise<ServedTask | undefined> {
  const task = await publicClient.readContract({
    address: TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "getTask",
    args: [taskId],
  });
  if (!task.active) return undefined;
  for (const nodeId of nodes) {
    const subscription = await publicClient.readContract({
      address: TaskRegistry,
      abi: taskRegistryAbi,
      functionName: "getSubscription",
      args: [taskId, nodeId],
    });
    if (subscription.active) return { taskId, securityLevel: Number(task.securityLevel) };
  }
  return undefined;
}
