import {
  type AtomaPublicClient,
  ContractRevertError,
  getSubscription,
  modelIdOf,
  offeredNodes,
  taskRegistryAbi,
} from "@atoma/chain/portable";
import type { Address } from "viem";

/** A task of a model that a node serves now. */
export interface ServedTask {
  taskId: bigint;
  securityLevel: number;
}

/**
 * What a caller could buy: only nodes within its price cap whose subscribed capacity holds its units count. Room
 * (capacity not reserved) is not asked for: a busy verified task must not make a cheaper level the default. The
 * default (any price, no units) counts every subscribed node.
 */
export interface ServingTerms {
  /** The caller's cap, wei per million units. @default any price */
  maxPricePerMillion?: bigint | undefined;
  /** The units the caller buys: a node whose capacity, busy or not, is below them does not count. @default 0n */
  units?: bigint | undefined;
}

/** Where the tasks and the purchases live. */
export interface TaskContracts {
  TaskRegistry: Address;
  StackManager: Address;
}

/**
 * The most tasks of one model read: each had a node's bonded subscription, so reaching it costs collateral, and
 * past it those of the highest level (by `TaskCreated`), then the newest, are kept: a lower level is never read
 * while a higher one is cut, so spam fills the window only to an error or a higher level served, never a lower.
 */
export const MAX_MODEL_TASKS = 64;
/** Reads in flight at once. */
const READ_BATCH = 16;
/** The highest cap the contract takes (a uint128): no price makes a node busy. */
const ANY_PRICE = 2n ** 128n - 1n;
/** The reverts of a purchase no node can serve (none subscribed and eligible, or too few to verify it). */
const NO_CANDIDATE = new Set(["NoEligibleNode", "TooFewVerifiers"]);

/**
 * The active tasks of `model` (H(name)) that a node serves now, highest level then newest first: a purchase of no units at any price
 * finds a candidate (`StackManager.candidatesFor`: subscribed, eligible, and for a verified task with the peers to
 * check it), however busy its nodes are. Found from the logs, not by reading every task: `TaskCreated` of the model
 * (free to emit, so only filtered) crossed with `Subscribed` (each a node's bonded collateral), so that tasks anyone
 * may create by the thousand cost a lookup nothing. Throws what the RPC throws: the caller must not read "none" into
 * a failure. `terms` narrow "serves" to what the caller could buy (its price cap, capacity for its units), so that a
 * subscriber at an absurd price, or with no capacity, cannot raise the level every such caller takes by default.
 */
export async function servedTasks(
  publicClient: AtomaPublicClient,
  contracts: TaskContracts,
  model: string,
  fromBlock = 0n,
  terms: ServingTerms = {},
): Promise<ServedTask[]> {
  const modelId = modelIdOf(model);
  const [created, subscribed] = await Promise.all([
    publicClient.getContractEvents({
      address: contracts.TaskRegistry,
      abi: taskRegistryAbi,
      eventName: "TaskCreated",
      args: { modelId },
      fromBlock,
      strict: true,
    }),
    publicClient.getContractEvents({
      address: contracts.TaskRegistry,
      abi: taskRegistryAbi,
      eventName: "Subscribed",
      fromBlock,
      strict: true,
    }),
  ]);
  const levelOf = new Map(created.map((log) => [log.args.taskId, Number(log.args.securityLevel)]));
  const subscribedTo = new Set(subscribed.map((log) => log.args.taskId).filter((id) => levelOf.has(id)));
  // Highest level first, then newest: tasks past the cap are never above one kept, so filling the window (tasks
  // are free, subscriptions' logs stay) cannot push a served level out while a lower one stays in.
  const byLevel = (a: bigint, b: bigint) => (levelOf.get(b) ?? 0) - (levelOf.get(a) ?? 0) || (a > b ? -1 : 1);
  const candidates = [...subscribedTo].sort(byLevel).slice(0, MAX_MODEL_TASKS);
  const served: ServedTask[] = [];
  for (let at = 0; at < candidates.length; at += READ_BATCH) {
    const batch = candidates.slice(at, at + READ_BATCH);
    const read = await Promise.all(batch.map((taskId) => servedTask(publicClient, contracts, taskId, terms)));
    for (const task of read) if (task) served.push(task);
  }
  return served;
}

async function servedTask(
  publicClient: AtomaPublicClient,
  contracts: TaskContracts,
  taskId: bigint,
  terms: ServingTerms,
): Promise<ServedTask | undefined> {
  const task = await publicClient.readContract({
    address: contracts.TaskRegistry,
    abi: taskRegistryAbi,
    functionName: "getTask",
    args: [taskId],
  });
  if (!task.active) return undefined;
  const offered = await offeredNodes(
    { publicClient, addresses: contracts },
    { taskId, units: 0n, maxPricePerMillion: terms.maxPricePerMillion ?? ANY_PRICE },
  ).catch((error: unknown) => {
    if (error instanceof ContractRevertError && NO_CANDIDATE.has(error.errorName)) return [];
    throw error;
  });
  if (offered.length === 0) return undefined;
  const units = terms.units ?? 0n;
  const holds = async (nodeId: bigint) =>
    units === 0n ||
    (await getSubscription({ publicClient, addresses: contracts }, { taskId, nodeId })).capacity >= units;
  const served = await Promise.all(offered.map((o) => holds(o.nodeId)));
  return served.includes(true) ? { taskId, securityLevel: Number(task.securityLevel) } : undefined;
}
