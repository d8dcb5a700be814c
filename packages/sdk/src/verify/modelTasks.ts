import {
  type AtomaPublicClient,
  ContractRevertError,
  getSubscription,
  modelIdOf,
  offeredNodes,
  SecurityLevel,
  TaskRole,
  taskRegistryAbi,
} from "@atoma/chain/portable";
import type { Address } from "viem";
import { ModelTasksCrowdedError } from "../errors.js";
import { modelTaskLogs } from "./modelTaskLogs.js";
import type { SubscriptionLog, TaskLogStore } from "./taskLogCache.js";

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
  /** Only tasks of this level are read (a caller that named its level). @default every level */
  securityLevel?: number | undefined;
  /**
   * The task roles that serve the caller's requests: a task of another role (one created for consensus seats or
   * checking only) never counts, whoever subscribed to it. @default `SERVING_ROLES`
   */
  roles?: readonly number[] | undefined;
}

/** The roles a node serves requests on (`TaskRole`: chat, completions, embeddings). */
export const SERVING_ROLES: readonly number[] = Object.values(TaskRole);

/** Where the tasks and the purchases live. */
export interface TaskContracts {
  TaskRegistry: Address;
  StackManager: Address;
}

/**
 * The most tasks of one model read at each security level: only live ones count (not deactivated, with a node's
 * subscription neither exiting nor gone), so filling the window takes that many bonded subscriptions kept up, not
 * logs left behind; within a level the newest are kept.
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
 * (free to emit, so only filtered) crossed with the subscriptions live by their logs (`Subscribed` not followed by
 * `ExitStarted` or `Unsubscribed`) and without `TaskDeactivated`, so that tasks anyone may create by the thousand,
 * or subscribe to and then drop (the bond comes back, the logs stay), cost a lookup nothing. The subscription logs
 * are read for the model's task ids only (an indexed topic), from `fromBlock` (the network's `deploymentBlock`): other
 * models' tasks are never fetched. Each level is read apart, from the highest down (`MAX_MODEL_TASKS` each), so no
 * number of tasks at one level hides another; a level with more live tasks than that, none of the newest served,
 * throws `ModelTasksCrowdedError` rather than falling to a lower level. Throws what the RPC throws: the caller must
 * not read "none" into a failure. `terms` narrow "serves" to what the caller
 * could buy (its price cap, capacity for its units), so that a subscriber at an absurd price, or with no capacity,
 * cannot raise the level every such caller takes by default. Only tasks of `terms.roles` count (review: a task
 * of a role no node serves requests on, subscribed for consensus seats or checking, was listed as serving). With
 * `store`, the logs read are kept and later lookups read only the blocks since, once the last block kept is still
 * the chain's (`modelTaskLogs`).
 */
export async function servedTasks(
  publicClient: AtomaPublicClient,
  contracts: TaskContracts,
  model: string,
  fromBlock = 0n,
  terms: ServingTerms = {},
  store?: TaskLogStore,
): Promise<ServedTask[]> {
  const logs = await modelTaskLogs(publicClient, contracts.TaskRegistry, modelIdOf(model), fromBlock, store);
  const roles = new Set(terms.roles ?? SERVING_ROLES);
  // A task of a role no node serves (a consensus-only or checking task of the model) serves no request: its
  // subscribers never raise the level taken nor get a stack bought from them for a request.
  const levelOf = new Map(
    logs.created.filter((t) => roles.has(t.role)).map((t) => [t.taskId, t.securityLevel]),
  );
  for (const taskId of logs.deactivated) levelOf.delete(taskId);
  const live = liveSubscriptions(logs.subscriptions);
  const byLevel = new Map<number, bigint[]>();
  for (const taskId of new Set(live.filter((id) => levelOf.has(id)))) {
    const level = levelOf.get(taskId) ?? 0;
    byLevel.set(level, [...(byLevel.get(level) ?? []), taskId]);
  }
  const served: ServedTask[] = [];
  // The level in the logs (perhaps a kept entry another app of the origin wrote) only orders the reads: each task's
  // level is the one `getTask` gives, and a named level is checked on that (review F8), so a task relabelled lower
  // in the store is neither hidden from a caller naming its level nor listed under the wrong one.
  for (const level of [...byLevel.keys()].sort((a, b) => b - a)) {
    const all = byLevel.get(level) ?? [];
    const newest = all.sort((a, b) => (a > b ? -1 : 1)).slice(0, MAX_MODEL_TASKS);
    const before = served.length;
    for (let at = 0; at < newest.length; at += READ_BATCH) {
      const batch = newest.slice(at, at + READ_BATCH);
      const read = await Promise.all(
        batch.map((taskId) => servedTask(publicClient, contracts, taskId, terms)),
      );
      for (const task of read)
        if (task && (terms.securityLevel === undefined || task.securityLevel === terms.securityLevel))
          served.push(task);
    }
    // Live tasks left unread and none read served: the level may be served by an older one. Never a quiet step down
    // (unless a higher level in clear is served already: the default is that one; a confidential level only counts
    // when named).
    const higherClear = served.some((t) => t.securityLevel !== SecurityLevel.Confidential);
    const matters =
      terms.securityLevel !== undefined
        ? level === terms.securityLevel
        : level !== SecurityLevel.Confidential;
    if (served.length === before && all.length > newest.length && !higherClear && matters)
      throw new ModelTasksCrowdedError(model, level, all.length, newest.length);
  }
  return served.sort((a, b) =>
    a.securityLevel !== b.securityLevel ? b.securityLevel - a.securityLevel : a.taskId > b.taskId ? -1 : 1,
  );
}

/** The task of each subscription whose latest log is `Subscribed` (a later exit or removal ends it). */
function liveSubscriptions(logs: readonly SubscriptionLog[]): bigint[] {
  const at = (log: SubscriptionLog) => log.blockNumber * 1_000_000n + BigInt(log.logIndex);
  const latest = new Map<string, { taskId: bigint; live: boolean; at: bigint }>();
  for (const log of logs) {
    const key = `${log.taskId}:${log.nodeId}`;
    const before = latest.get(key);
    if (!before || at(log) > before.at) latest.set(key, { taskId: log.taskId, live: log.live, at: at(log) });
  }
  return [...latest.values()].filter((s) => s.live).map((s) => s.taskId);
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
